"""Checkpoint loading (files, formats, errors) and Hugging Face Hub loading from a local cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from sam2.build_sam import build_sam2
from sam2.checkpoint import CheckpointError, read_state_dict
from sam2.testing import populate_hf_cache
from tests.support import paths


def test_safetensors_and_pt_load_the_same_weights(tmp_path, tiny_checkpoint):
    from safetensors.torch import save_file

    sd = read_state_dict(tiny_checkpoint)
    st = tmp_path / "tiny.safetensors"
    save_file(sd, str(st))
    a = build_sam2("sam2.1_hiera_t", tiny_checkpoint, device="cpu")
    b = build_sam2("sam2.1_hiera_t", str(st), device="cpu")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    bare = tmp_path / "bare.pt"
    torch.save(sd, bare)  # a bare state dict without the {"model": ...} wrapper
    build_sam2("sam2.1_hiera_t", str(bare), device="cpu")


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*download_ckpts"):
        build_sam2("sam2.1_hiera_t", str(tmp_path / "nope.pt"), device="cpu")


def test_empty_and_corrupt_files(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_state_dict(empty)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip archive" * 10)
    with pytest.raises(CheckpointError, match="corrupt|could not read|refused"):
        read_state_dict(corrupt)


def test_checkpoint_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"model": {"x": Evil()}}, evil)
    with pytest.raises(CheckpointError):
        read_state_dict(evil)
    assert not marker.exists()


def test_wrong_model_size_or_version_is_named(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="does not match model config sam2.1_hiera_s"):
        build_sam2("sam2.1_hiera_s", tiny_checkpoint, device="cpu")
    with pytest.raises(CheckpointError, match="unexpected keys"):
        build_sam2("sam2_hiera_t", tiny_checkpoint, device="cpu")  # SAM 2.1 file into SAM 2 model
    sd = read_state_dict(tiny_checkpoint)
    sd["no_mem_embed"] = torch.zeros(1, 1, 128)
    bad = tmp_path / "shape.pt"
    torch.save({"model": sd}, bad)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        build_sam2("sam2.1_hiera_t", str(bad), device="cpu")


def test_default_device_on_a_cpu_machine(tiny_checkpoint):
    model = build_sam2("sam2.1_hiera_t", tiny_checkpoint)  # device=None must not assume CUDA
    if not torch.cuda.is_available():
        assert model.device.type in ("cpu", "mps")
    assert not model.training


def _run_offline(code: str, cache: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=cache, HF_HOME=os.path.dirname(cache))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=str(paths.REPO))


def test_from_pretrained_offline_from_cache(tmp_path, tiny_checkpoint):
    cache = tmp_path / "hf" / "hub"
    populate_hf_cache(str(cache), "facebook/sam2.1-hiera-tiny", checkpoint=tiny_checkpoint)
    res = _run_offline("""
        import numpy as np
        from sam2.sam2_image_predictor import SAM2ImagePredictor
        p = SAM2ImagePredictor.from_pretrained("facebook/sam2.1-hiera-tiny", device="cpu")
        p.set_image(np.zeros((32, 48, 3), np.uint8))
        m, s, _ = p.predict(np.array([[10, 10]]), np.array([1]))
        print("OK", m.shape)
    """, str(cache))
    assert res.returncode == 0, res.stderr
    assert "OK (3, 32, 48)" in res.stdout


@pytest.mark.slow
def test_from_pretrained_sam2_large_offline(tmp_path):
    cache = tmp_path / "hf" / "hub"
    populate_hf_cache(str(cache), "facebook/sam2-hiera-large", seed=0)
    res = _run_offline("""
        from sam2.sam2_image_predictor import SAM2ImagePredictor
        p = SAM2ImagePredictor.from_pretrained("facebook/sam2-hiera-large", device="cpu")
        print("OK", p.model.config.name, sum(x.numel() for x in p.model.parameters()))
    """, str(cache))
    assert res.returncode == 0, res.stderr
    assert "OK sam2_hiera_l" in res.stdout


def test_from_pretrained_without_cache_or_network_explains(tmp_path):
    cache = tmp_path / "empty" / "hub"
    cache.mkdir(parents=True)
    res = _run_offline("""
        from sam2.build_sam import HubDownloadError
        from sam2.sam2_image_predictor import SAM2ImagePredictor
        try:
            SAM2ImagePredictor.from_pretrained("facebook/sam2.1-hiera-tiny")
        except HubDownloadError as e:
            print("MSG", e)
    """, str(cache))
    assert res.returncode == 0, res.stderr
    assert "MSG" in res.stdout and "Check the network connection" in res.stdout and "--checkpoint" in res.stdout


def test_unknown_hub_id():
    from sam2.build_sam import build_sam2_hf

    with pytest.raises(ValueError, match="unknown SAM 2 model id"):
        build_sam2_hf("facebook/sam3-giant")


def test_hydra_style_overrides_are_understood(tiny_checkpoint):
    model = build_sam2("sam2.1_hiera_t", tiny_checkpoint, device="cpu",
                       hydra_overrides_extra=["++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.5"])
    assert model.sam_mask_decoder.dynamic_multimask_stability_thresh == 0.5
    with pytest.raises(ValueError, match="unknown SAM 2 config field"):
        build_sam2("sam2.1_hiera_t", None, device="cpu", hydra_overrides_extra=["++model.bogus=1"])
