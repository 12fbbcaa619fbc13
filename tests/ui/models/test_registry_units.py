"""ui.models.registry.ModelRegistry: one load under concurrency, eviction, offline explanations, bad options."""

import threading

import pytest

from ui.models.availability import HubProbe


def test_registry_loads_once_under_concurrency_and_evicts(monkeypatch):
    import time as _time

    from sam2 import build_sam
    from ui.models.registry import ModelRegistry

    calls = []

    def fake_build(model_id, device=None, **kw):
        calls.append(model_id)
        _time.sleep(0.2)
        return object()

    monkeypatch.setattr(build_sam, "build_sam2_hf", fake_build)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reg = ModelRegistry(device="cpu", max_loaded=1, hub=HubProbe(probe=lambda url, timeout: None))
    assert reg.default_model == "facebook/sam2.1-hiera-tiny"
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.get(None).model)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["facebook/sam2.1-hiera-tiny"] and len({id(m) for m in got}) == 1
    msgs = []
    reg.get("small", progress=lambda f, d: msgs.append(d))
    assert "SAM 2.1 · small" in msgs[0]
    assert reg.is_loaded("small") and not reg.is_loaded(None)  # max_loaded=1 evicted tiny


def test_registry_explains_missing_weights_offline(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    from sam2 import build_sam
    from ui.models.registry import ModelRegistry
    from ui.common.errors import ModelUnavailableError

    def offline(model_id, **kw):
        try:
            raise LocalEntryNotFoundError("outgoing traffic has been disabled")
        except LocalEntryNotFoundError as exc:
            raise build_sam.HubDownloadError("not cached") from exc

    monkeypatch.setattr(build_sam, "build_sam2_hf", offline)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reg = ModelRegistry(device="cpu", hub=HubProbe(probe=lambda url, timeout: None))
    with pytest.raises(ModelUnavailableError, match="download from the Hugging Face Hub failed.*--checkpoint"):
        reg.get("large")
    # The failed download taught the registry that the Hub is out of reach: other
    # uncached models are marked, and the failed one answers at once from memory.
    assert reg.unavailable_reason("small") == "unavailable offline"


def test_registry_rejects_bad_options(tmp_path):
    from ui.models.registry import ModelRegistry

    with pytest.raises(ValueError, match="no such file"):
        ModelRegistry(device="cpu", checkpoint=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="unknown model"):
        ModelRegistry(device="cpu", default_model="sam9")
    with pytest.raises(Exception):
        ModelRegistry(device="gpu")
