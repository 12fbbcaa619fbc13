"""EdgeTAM checkpoints: strict loading, BatchNorm folding, the errors a wrong file gives,
and loading from the Hub id ``facebook/EdgeTAM`` (offline, from a local cache)."""

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


@pytest.fixture(scope="module")
def edgetam_checkpoint(checkpoint_factory) -> str:
    return checkpoint_factory("edgetam", 0)


def test_edgetam_checkpoint_with_sam2_config_names_the_mismatch(edgetam_checkpoint):
    with pytest.raises(CheckpointError, match="checkpoint of EdgeTAM.*configs/edgetam.yaml"):
        build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", edgetam_checkpoint, device="cpu")


def test_sam2_checkpoint_with_edgetam_config_names_the_mismatch(tiny_checkpoint):
    with pytest.raises(CheckpointError, match=r"checkpoint of SAM 2 / SAM 2.1 \(Hiera\).*builds EdgeTAM"):
        build_sam2("configs/edgetam.yaml", tiny_checkpoint, device="cpu")


def test_truncated_edgetam_files(tmp_path, edgetam_checkpoint):
    data = open(edgetam_checkpoint, "rb").read()
    cut = tmp_path / "edgetam.pt"
    cut.write_bytes(data[: len(data) // 2])  # an interrupted download
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        build_sam2("edgetam", str(cut), device="cpu")
    sd = read_state_dict(edgetam_checkpoint)
    partial = {k: v for k, v in sd.items() if not k.startswith("spatial_perceiver.")}
    torch.save({"model": partial}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"does not match model config edgetam: \d+ missing keys "
                                              r"\(e\.g\. spatial_perceiver\."):
        build_sam2("edgetam", str(tmp_path / "partial.pt"), device="cpu")


def test_batchnorm_is_folded_and_matches_the_unfolded_trunk(edgetam_checkpoint):
    model = build_sam2("edgetam", edgetam_checkpoint, device="cpu")
    trunk = model.image_encoder.trunk
    assert not trunk.batchnorm_folded  # exact mode runs the reference's layers as they are
    trunk.fold_batchnorm(True)  # as fast mode does
    assert set(model.state_dict()) == set(read_state_dict(edgetam_checkpoint))  # layout kept
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        folded = trunk(x)
        trunk.train()
        for m in trunk.modules():  # BatchNorm in eval, everything else unfolded
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        unfolded = trunk(x)
        trunk.eval()
    for a, b in zip(folded, unfolded):
        # rounding only: up to ~2e-5 relative on random inputs (activations reach 1e4-1e5),
        # within the 1e-4 asked of features against the reference
        assert (a - b).norm() / b.norm() < 1e-4
    # a later load refolds: new weights change the output
    sd = model.state_dict()
    sd["image_encoder.trunk.body.stem.conv1.bn.running_var"] = sd["image_encoder.trunk.body.stem.conv1.bn.running_var"] * 4
    model.load_state_dict(sd)
    with torch.no_grad():
        assert not torch.allclose(trunk(x)[0], folded[0])


def test_edgetam_from_pretrained_offline(tmp_path, edgetam_checkpoint):
    cache = tmp_path / "hf" / "hub"
    populate_hf_cache(str(cache), "facebook/EdgeTAM", checkpoint=edgetam_checkpoint)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_HOME=str(tmp_path / "hf"))
    code = """
        import numpy as np
        from sam2.sam2_image_predictor import SAM2ImagePredictor
        from sam2.sam2_video_predictor import SAM2VideoPredictor
        p = SAM2ImagePredictor.from_pretrained("facebook/EdgeTAM", device="cpu")
        assert p.model.config.name == "edgetam"
        p.set_image(np.zeros((32, 48, 3), np.uint8))
        m, s, _ = p.predict(np.array([[10, 10]]), np.array([1]))
        v = SAM2VideoPredictor.from_pretrained("facebook/EdgeTAM", device="cpu")
        print("OK", m.shape, type(v).__name__, v.config.name)
    """
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=600, cwd=str(paths.REPO))
    assert res.returncode == 0, res.stderr
    assert "OK (3, 32, 48) SAM2VideoPredictor edgetam" in res.stdout


def test_download_script_knows_edgetam():
    import importlib.util

    path = os.path.join(str(paths.REPO), "checkpoints", "download_ckpts.py")
    spec = importlib.util.spec_from_file_location("download_ckpts", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.wanted(["edgetam"]) == script.wanted(["facebook/EdgeTAM"]) == ["facebook/EdgeTAM"]
    assert "facebook/EdgeTAM" in script.wanted(["all"]) and "facebook/EdgeTAM" not in script.wanted([])
