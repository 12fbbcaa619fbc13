"""Our module tree must hold exactly the official checkpoints' keys and shapes: the eight
SAM 2 / SAM 2.1 models and EdgeTAM."""

from __future__ import annotations

import json

import pytest

from tests.support.parity import PARITY_DIR
from sam2.configs import CONFIGS, HF_MODELS, config_name
from sam2.testing import fill_value, model_shapes

ALL = sorted(CONFIGS)


@pytest.mark.parametrize("name", ALL)
def test_state_dict_matches_official_manifest(name):
    with open(PARITY_DIR / "manifests" / f"{name}.json") as f:
        manifest = json.load(f)
    ours = model_shapes(name)
    theirs = {k: tuple(v) for k, v in manifest["keys"].items()}
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == []
    wrong = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    assert wrong == {}
    # the parameter count leaves out integer buffers (BatchNorm's num_batches_tracked)
    integer = {k for k, dtype in manifest.get("dtypes", {}).items() if "int" in dtype}
    total = sum(int(__import__("math").prod(s)) for k, s in ours.items() if k not in integer)
    assert total == manifest["parameters"]


@pytest.mark.parametrize("spelling,expected", [
    ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_l"),
    ("sam2.1_hiera_l.yaml", "sam2.1_hiera_l"),
    ("sam2.1_hiera_l", "sam2.1_hiera_l"),
    ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_b+"),
    ("sam2_hiera_t.yaml", "sam2_hiera_t"),
    ("facebook/sam2-hiera-base-plus", "sam2_hiera_b+"),
    ("sam2.1_hiera_small.pt", "sam2.1_hiera_s"),
    ("configs/edgetam.yaml", "edgetam"),
    ("edgetam", "edgetam"),
    ("edgetam.pt", "edgetam"),
    ("facebook/EdgeTAM", "edgetam"),
])
def test_config_names_accept_official_spellings(spelling, expected):
    assert config_name(spelling) == expected


def test_unknown_config_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown SAM 2 model config"):
        config_name("sam3_hiera_xl")


def test_hf_table_covers_the_eight_models_and_edgetam():
    assert len(HF_MODELS) == 9
    assert HF_MODELS["facebook/EdgeTAM"] == ("edgetam", "edgetam.pt")
    assert HF_MODELS["facebook/sam2.1-hiera-large"] == ("sam2.1_hiera_l", "sam2.1_hiera_large.pt")
    assert HF_MODELS["facebook/sam2-hiera-tiny"] == ("sam2_hiera_t", "sam2_hiera_tiny.pt")


def test_fill_rule_matches_documented_formula():
    import math
    import zlib

    import numpy as np

    key, shape, seed = "sam_mask_decoder.iou_token.weight", (1, 256), 3
    z = np.random.RandomState((zlib.crc32(key.encode()) ^ seed) & 0xFFFFFFFF).standard_normal(shape)
    np.testing.assert_array_equal(fill_value(key, shape, seed), (z / math.sqrt(256)).astype(np.float32))
    norm = fill_value("x.norm.weight", (4,), 0)
    assert norm.dtype == np.float32 and abs(norm.mean() - 1) < 0.3
    bias = fill_value("x.bias", (1000,), 0)
    assert abs(bias.std() - 0.1) < 0.02


def test_fill_rule_batchnorm_buffers():
    import numpy as np
    import torch

    var = fill_value("trunk.bn.running_var", (1000,), 3)
    assert var.dtype == np.float32 and var.min() > 0 and abs(var.mean() - 1) < 0.02
    count = fill_value("trunk.bn.num_batches_tracked", (), 3, torch.int64)
    assert count.dtype == np.int64 and count == 0
