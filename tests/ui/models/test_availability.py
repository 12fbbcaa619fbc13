"""Which models can be had here, and how long the registry trusts what it learned (issue 13).

No network and no real loading: the Hub probe, the clock and the builders are stand-ins,
the Hugging Face cache is a temporary folder (``huggingface_hub.constants.HF_HUB_CACHE``).
"""

from __future__ import annotations

import pytest

from sam2 import build_sam
from ui.models.availability import HubProbe, cached_checkpoint
from ui.models.registry import ModelRegistry
from ui.common.errors import ModelUnavailableError

TINY, SMALL, LARGE = "facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-small", "facebook/sam2.1-hiera-large"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Probe:
    """Counts probes; answers ``reason`` (None: the Hub answers)."""

    def __init__(self, reason=None) -> None:
        self.reason = reason
        self.calls = 0

    def __call__(self, url, timeout):
        self.calls += 1
        return self.reason


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return str(hub)


def _registry(probe, clock, **kw):
    return ModelRegistry(device="cpu", hub=HubProbe(probe=probe, clock=clock), clock=clock, **kw)


def test_hub_probe_is_asked_once_per_window_and_not_at_all_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    clock, probe = Clock(), Probe("ConnectionRefusedError: refused")
    hub = HubProbe(probe=probe, clock=clock, remember_s=300)
    assert "cannot be reached" in hub.unreachable_reason()
    assert not hub.reachable() and probe.calls == 1
    clock.now += 301
    probe.reason = None
    assert hub.reachable() and probe.calls == 2  # the network came back: the next window says so
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clock.now += 301
    assert "HF_HUB_OFFLINE" in hub.unreachable_reason() and probe.calls == 2


def test_missing_weights_fail_at_once_and_are_retried_after_the_window(empty_cache, monkeypatch):
    clock, probe = Clock(), Probe("gaierror: Name or service not known")
    builds = []
    monkeypatch.setattr(build_sam, "build_sam2_hf", lambda model_id, **kw: builds.append(model_id) or object())
    reg = _registry(probe, clock)
    for _ in range(3):
        with pytest.raises(ModelUnavailableError) as info:
            reg.get(None)
        message = str(info.value)
        # short, names the fix, no server path; the log detail has the cache location
        assert "SAM 2.1 · tiny is unavailable" in message and "--checkpoint" in message
        assert "download_ckpts.sh" in message and "HF_HOME" in message
        assert empty_cache not in message and "/" not in message.replace("`bash checkpoints/download_ckpts.sh`", "")
        assert empty_cache in info.value.detail
    assert builds == [] and probe.calls == 1  # learned once, remembered
    assert reg.unavailable_reason(SMALL) == "unavailable offline"
    assert [label for label, _ in reg.choices()][0] == "SAM 2.1 · tiny — unavailable offline"
    clock.now += 301  # after the window the Hub is asked again, and now answers
    probe.reason = None
    assert reg.get(None).model_id == TINY and builds == [TINY]
    assert reg.unavailable_reason(SMALL) is None and "—" not in reg.choices()[0][0]


def test_cached_weights_are_read_from_disk_without_asking_the_hub(empty_cache, monkeypatch):
    from sam2.testing import populate_hf_cache

    clock, probe = Clock(), Probe("gaierror: Name or service not known")
    path = populate_hf_cache(empty_cache, TINY)
    assert cached_checkpoint(TINY) == path and cached_checkpoint(SMALL) is None
    monkeypatch.setattr(build_sam, "build_sam2_hf", lambda *a, **k: pytest.fail("asked the Hub"))
    built = []
    monkeypatch.setattr(build_sam, "build_sam2", lambda cfg, ckpt_path=None, **kw: built.append(ckpt_path) or object())
    reg = _registry(probe, clock)
    assert reg.get(TINY).model_id == TINY and built == [path] and probe.calls == 0
    assert reg.unavailable_reason(TINY) is None
    assert reg.unavailable_reason(LARGE) == "unavailable offline"


def test_weights_arriving_in_the_cache_end_the_remembered_failure(empty_cache, monkeypatch):
    from sam2.testing import populate_hf_cache

    clock, probe = Clock(), Probe("timeout")
    monkeypatch.setattr(build_sam, "build_sam2", lambda cfg, ckpt_path=None, **kw: object())
    reg = _registry(probe, clock)
    with pytest.raises(ModelUnavailableError):
        reg.get(SMALL)
    populate_hf_cache(empty_cache, SMALL)  # e.g. `huggingface-cli download` in another shell
    assert reg.get(SMALL).model_id == SMALL


def test_a_broken_cached_file_is_remembered_as_failed_to_load(empty_cache, monkeypatch):
    import os

    from sam2.testing import populate_hf_cache

    path = populate_hf_cache(empty_cache, TINY)
    os.truncate(path, 1000)
    reg = _registry(Probe(None), Clock())
    with pytest.raises(ModelUnavailableError, match="could not be loaded here") as info:
        reg.get(TINY)
    assert empty_cache not in str(info.value) and "CheckpointError" in str(info.value)
    assert reg.unavailable_reason(TINY) == "failed to load"


def test_startup_builds_the_checkpoint_once_and_refuses_a_wrong_one(tmp_path, checkpoint_factory):
    from sam2.checkpoint import CheckpointError

    ckpt = checkpoint_factory("sam2.1_hiera_t", 0)
    reg = ModelRegistry(device="cpu", default_model="tiny", checkpoint=ckpt)
    reg.check_at_startup()
    assert reg.is_loaded(None) and reg.unavailable_reason(None) is None
    wrong = ModelRegistry(device="cpu", default_model="small", checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="does not match model config sam2.1_hiera_s"):
        wrong.check_at_startup()


def test_dropdown_marks_neither_log_nor_remember(empty_cache, caplog):
    clock, probe = Clock(), Probe("gaierror: Name or service not known")
    reg = _registry(probe, clock)
    with caplog.at_level("WARNING", logger="sam2.app"):
        for _ in range(3):
            assert all(label.endswith("— unavailable offline") for label, _ in reg.choices())
    model_lines = [r for r in caplog.records if "is unavailable" in r.getMessage()]
    assert model_lines == [] and probe.calls == 1
    with caplog.at_level("WARNING", logger="sam2.app"):
        with pytest.raises(ModelUnavailableError):
            reg.get("large")  # a user's request is what gets logged, once
        with pytest.raises(ModelUnavailableError):
            reg.get("large")
    assert len([r for r in caplog.records if "is unavailable" in r.getMessage()]) == 1


def test_video_tracks_with_edgetam_on_a_cpu_only_when_it_can_load_and_nobody_chose(empty_cache, tmp_path):
    from ui.models.names import EDGETAM_MODEL
    from ui.video.controller import VideoController
    from ui.video.engine import VideoEngine

    clock = Clock()
    offline = _registry(Probe("gaierror: Name or service not known"), clock)
    assert offline.tracking_default() == TINY  # EdgeTAM neither cached nor reachable
    fallback = VideoController(VideoEngine(offline)).model_note()  # said, never silent (issue 22)
    assert "EdgeTAM" in fallback and "unavailable" in fallback and "a frame" in fallback, fallback
    online = _registry(Probe(None), clock)
    assert online.tracking_default() == EDGETAM_MODEL  # the Hub answers: it can be had
    note = VideoController(VideoEngine(online)).model_note()
    assert "EdgeTAM" in note and "fastest" in note and "Model" in note
    assert _registry(Probe(None), clock, default_model="small").tracking_default() == SMALL  # --model wins
    gpu = _registry(Probe(None), clock)
    gpu.device = "cuda"  # (no GPU needed to ask)
    assert gpu.tracking_default() == gpu.default_model  # a GPU keeps the app's default
    from sam2.testing import populate_hf_cache

    populate_hf_cache(empty_cache, EDGETAM_MODEL)
    cached = _registry(Probe("gaierror: Name or service not known"), clock)
    assert cached.tracking_default() == EDGETAM_MODEL  # cached weights need no Hub
