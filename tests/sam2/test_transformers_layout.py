"""Checkpoints in the Hugging Face transformers layout (model.safetensors + config.json).

Random weights in the official layout go through our mapping to transformers' names and
back through the loader; every tensor must come back bit for bit, under its official name.
Where ``transformers`` is installed, its own models check the names: the key set of
``Sam2VideoModel`` / ``EdgeTamVideoModel`` must be exactly what the mapping writes, and a
checkpoint saved by transformers must load here (and ours there).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from tests.support.parity import PARITY_DIR
from sam2 import hub, transformers_folder, transformers_keys
from sam2.build_sam import build_sam2
from sam2.checkpoint import CheckpointError, read_state_dict
from sam2.configs import get_config
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.testing import fill_value, hf_cache_snapshot

MANIFESTS = PARITY_DIR / "manifests"
SAM2_NAMES = [f"{fam}_hiera_{size}" for fam in ("sam2", "sam2.1") for size in ("t", "s", "b+", "l")]
ALL_NAMES = SAM2_NAMES + ["edgetam"]


def manifest(name: str) -> dict:
    with open(MANIFESTS / f"{name}.json") as f:
        return json.load(f)


def manifest_state_dict(name: str, seed: int = 0, device: str = "cpu") -> dict:
    """Seeded random weights for every key of the manifest (the parity fill rule; integer
    buffers such as BatchNorm's ``num_batches_tracked`` get distinct small integers so a
    mix-up would show). ``device="meta"`` gives shapes only."""
    m = manifest(name)
    dtypes = m.get("dtypes", {})
    out = {}
    for i, (key, shape) in enumerate(m["keys"].items()):
        shape = tuple(shape)
        if device == "meta":
            out[key] = torch.empty(shape, device="meta")
        elif key in dtypes and "int" in dtypes[key]:
            out[key] = torch.full(shape, i, dtype=getattr(torch, dtypes[key].replace("torch.", "")))
        else:
            out[key] = torch.from_numpy(fill_value(key, shape, seed))
    return out


def assert_same_state(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype, key
        assert torch.equal(actual[key], value), key


# ------------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("name", ALL_NAMES)
def test_mapping_is_a_bijection_on_every_official_layout(name):
    sd = manifest_state_dict(name, device="meta")
    hf = transformers_keys.to_transformers_state_dict(sd, get_config(name).architecture)
    # every official name changes except a few that transformers kept, and nothing collides
    fused_kv = 4 if name == "edgetam" else 0  # the perceiver's 2 x 2 fused key/value matrices, split
    assert len(hf) == len(sd) - 4 + 1 + 1 + fused_kv  # 4 point embeddings -> 1 matrix; a copy of the PE
    assert not any(k.startswith(("image_encoder.", "sam_", "obj_ptr")) for k in hf)
    back = transformers_keys.from_transformers_state_dict(hf, get_config(name).architecture)
    assert {k: tuple(v.shape) for k, v in back.items()} == {k: tuple(v.shape) for k, v in sd.items()}


def test_merged_split_and_duplicated_tensors():
    sd = manifest_state_dict("edgetam")
    hf = transformers_keys.to_transformers_state_dict(sd, "edgetam")
    points = hf["prompt_encoder.point_embed.weight"]
    assert points.shape == (4, 256)
    for i in range(4):
        assert torch.equal(points[i:i + 1], sd[f"sam_prompt_encoder.point_embeddings.{i}.weight"])
    kv = sd["spatial_perceiver.layers.1.self_attn.to_kv.weight"]
    assert torch.equal(hf["spatial_perceiver.layers.1.self_attention.k_proj.weight"], kv[:64])
    assert torch.equal(hf["spatial_perceiver.layers.1.self_attention.v_proj.weight"], kv[64:])
    pe = sd["sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]
    assert torch.equal(hf["shared_image_embedding.positional_embedding"], pe)
    assert torch.equal(hf["prompt_encoder.shared_embedding.positional_embedding"], pe)
    assert "vision_encoder.backbone.timm_model.stem.conv1.c.weight" in hf
    assert "memory_attention.layers.0.mlp.up_proj.weight" in hf  # EdgeTAM names its memory MLP


# ------------------------------------------------------------- round trips through a folder


def _round_trip(tmp_path, name, seed=0):
    sd = manifest_state_dict(name, seed)
    folder = transformers_folder.write_transformers_checkpoint(tmp_path / name, sd, name)
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    found, back = transformers_folder.read_transformers_checkpoint(folder)
    assert found == name
    assert_same_state(back, sd)


@pytest.mark.parametrize("name", ["sam2_hiera_t", "sam2.1_hiera_t", "edgetam"])
def test_folder_round_trip(tmp_path, name):
    _round_trip(tmp_path, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sam2_hiera_s", "sam2_hiera_b+", "sam2_hiera_l",
                                  "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l"])
def test_folder_round_trip_larger_models(tmp_path, name):
    _round_trip(tmp_path, name, seed=1)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_model_from_transformers_folder_predicts_like_the_pt(tmp_path, tiny_checkpoint, tiny_model, media_dir):
    from PIL import Image

    folder = transformers_folder.write_transformers_checkpoint(tmp_path / "hf", read_state_dict(tiny_checkpoint),
                                                     "sam2.1_hiera_t")
    image = np.asarray(Image.open(media_dir / "cars.jpg").convert("RGB"))
    results = []
    for model in (tiny_model, build_sam2("sam2.1_hiera_t", str(folder), device="cpu")):
        predictor = SAM2ImagePredictor(model)
        predictor.set_image(image)
        results.append(predictor.predict(np.array([[500, 300]]), np.array([1]), return_logits=True))
    (masks, scores, logits), (masks_hf, scores_hf, logits_hf) = results
    assert np.array_equal(masks_hf, masks) and np.array_equal(scores_hf, scores)
    assert np.array_equal(logits_hf, logits) and np.abs(logits).max() > 0
    # the model.safetensors inside the folder names the same checkpoint
    by_file = build_sam2("sam2.1_hiera_t", os.path.join(folder, "model.safetensors"), device="cpu")
    assert_same_state(by_file.state_dict(), predictor.model.state_dict())


def test_download_from_a_hub_repo_in_the_transformers_layout(tmp_path, tiny_folder):
    from sam2.build_sam import HubDownloadError

    cache = tmp_path / "hub"
    snapshot = hf_cache_snapshot(str(cache), "someone/sam2.1-tiny-hf")
    for name in ("config.json", "model.safetensors"):
        os.symlink(os.path.join(tiny_folder, name), os.path.join(snapshot, name))
    folder = hub.download_transformers_checkpoint("someone/sam2.1-tiny-hf", cache_dir=str(cache),
                                                        local_files_only=True)
    assert os.path.realpath(folder) == os.path.realpath(snapshot)
    model = build_sam2("sam2.1_hiera_t", folder, device="cpu")
    assert_same_state(model.state_dict(), transformers_folder.read_transformers_checkpoint(tiny_folder)[1])
    with pytest.raises(HubDownloadError, match="could not get config.json of someone/else"):
        hub.download_transformers_checkpoint("someone/else", cache_dir=str(cache), local_files_only=True)
    config_only = hf_cache_snapshot(str(cache), "someone/config-only")
    os.symlink(os.path.join(tiny_folder, "config.json"), os.path.join(config_only, "config.json"))
    with pytest.raises(HubDownloadError, match="could not get model.safetensors of someone/config-only"):
        hub.download_transformers_checkpoint("someone/config-only", cache_dir=str(cache), local_files_only=True)


# ------------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    sd = manifest_state_dict("sam2.1_hiera_t")
    return transformers_folder.write_transformers_checkpoint(tmp_path_factory.mktemp("hf") / "t", sd, "sam2.1_hiera_t")


def test_folder_without_config_json_is_named(tmp_path, tiny_folder):
    lone = tmp_path / "lone"
    lone.mkdir()
    os.symlink(os.path.join(tiny_folder, "model.safetensors"), lone / "model.safetensors")
    for path in (lone, lone / "model.safetensors"):
        with pytest.raises(CheckpointError, match="transformers layout but no config.json"):
            build_sam2("sam2.1_hiera_t", str(path), device="cpu")


def test_folder_without_weights_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(transformers_folder.transformers_config("sam2.1_hiera_t")))
    with pytest.raises(CheckpointError, match="has no model.safetensors"):
        build_sam2("sam2.1_hiera_t", str(tmp_path), device="cpu")


@pytest.mark.parametrize("given", ["sam2_hiera_t", "sam2.1_hiera_s"])
def test_config_json_of_another_model_is_named(tiny_folder, given):
    with pytest.raises(CheckpointError, match=f"describes sam2.1_hiera_t, but the model being built is {given}"):
        build_sam2(given, str(tiny_folder), device="cpu")


def test_edgetam_folder_with_a_sam2_config_is_named(tmp_path):
    folder = transformers_folder.write_transformers_checkpoint(tmp_path / "e", manifest_state_dict("edgetam"), "edgetam")
    with pytest.raises(CheckpointError, match="describes edgetam, but the model being built is sam2.1_hiera_t"):
        build_sam2("sam2.1_hiera_t", str(folder), device="cpu")


def test_config_json_of_another_architecture_or_unreadable(tmp_path, tiny_folder):
    folder = tmp_path / "f"
    folder.mkdir()
    os.symlink(os.path.join(tiny_folder, "model.safetensors"), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"model_type": "sam"}))
    with pytest.raises(CheckpointError, match="describes a 'sam' model"):
        build_sam2("sam2.1_hiera_t", str(folder), device="cpu")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable config.json"):
        build_sam2("sam2.1_hiera_t", str(folder), device="cpu")


def test_image_only_transformers_checkpoint_is_named(tmp_path):
    from safetensors.torch import save_file

    hf = transformers_keys.to_transformers_state_dict(manifest_state_dict("sam2.1_hiera_t"), "sam2")
    image_only = {k: v for k, v in hf.items() if not k.startswith(("memory_", "mask_downsample", "object_pointer"))}
    save_file(image_only, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "sam2", "architectures": ["Sam2Model"]}))
    with pytest.raises(CheckpointError, match="image-only 'sam2' model without the memory weights"):
        build_sam2("sam2.1_hiera_t", str(tmp_path), device="cpu")


def test_config_json_sizes_and_families():
    for name in SAM2_NAMES + ["edgetam"]:
        assert transformers_folder.config_name_from_transformers_config(transformers_folder.transformers_config(name)) == name
    # transformers' defaults (Sam2VideoConfig()) are SAM 2.1 tiny
    assert transformers_folder.config_name_from_transformers_config({"model_type": "sam2_video"}) == "sam2.1_hiera_t"
    odd = {"model_type": "sam2_video", "vision_config": {"backbone_config": {"blocks_per_stage": [1, 1, 1, 1]}}}
    with pytest.raises(CheckpointError, match="matches none of the official SAM 2 sizes"):
        transformers_folder.config_name_from_transformers_config(odd)


def test_differing_positional_encoding_copies_are_refused():
    hf = transformers_keys.to_transformers_state_dict(manifest_state_dict("sam2_hiera_t"), "sam2")
    hf["shared_image_embedding.positional_embedding"] = hf["shared_image_embedding.positional_embedding"] + 1
    with pytest.raises(transformers_keys.KeyMappingError, match="differ"):
        transformers_keys.from_transformers_state_dict(hf, "sam2")
    del hf["shared_image_embedding.positional_embedding"]  # one copy alone is enough
    back = transformers_keys.from_transformers_state_dict(hf, "sam2")
    assert "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix" in back
    with pytest.raises(ValueError, match="architecture must be one of"):
        transformers_keys.from_transformers_state_dict(hf, "sam2_hiera_t")  # a config name is not an architecture


def test_folder_reader_reports_differing_copies_as_a_checkpoint_error(tmp_path):
    from safetensors.torch import save_file

    hf = transformers_keys.to_transformers_state_dict(manifest_state_dict("sam2.1_hiera_t"), "sam2")
    hf["shared_image_embedding.positional_embedding"] = hf["shared_image_embedding.positional_embedding"] + 1
    save_file({k: v.contiguous() for k, v in hf.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(transformers_folder.transformers_config("sam2.1_hiera_t")))
    with pytest.raises(CheckpointError, match=f"transformers checkpoint {tmp_path}: .* differ"):
        transformers_folder.read_transformers_checkpoint(tmp_path)


def test_official_safetensors_file_is_not_mistaken_for_the_transformers_layout(tmp_path):
    from safetensors.torch import save_file

    save_file({"image_encoder.trunk.pos_embed": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    assert not transformers_folder.is_transformers_checkpoint(tmp_path / "model.safetensors")
    assert transformers_folder.is_transformers_checkpoint(tmp_path)


# ------------------------------------------------- against transformers itself (if installed)


def _transformers():
    return pytest.importorskip("transformers", reason="transformers is not installed")


@pytest.mark.parametrize("name", SAM2_NAMES)
def test_key_set_is_exactly_transformers_sam2_video_model(name):
    transformers = _transformers()
    config = transformers.Sam2VideoConfig(**transformers_folder.transformers_config(name))
    with torch.device("meta"):
        model = transformers.Sam2VideoModel(config)
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in
            transformers_keys.to_transformers_state_dict(manifest_state_dict(name, device="meta"), get_config(name).architecture).items()}
    assert ours == theirs


def test_key_set_is_exactly_transformers_edgetam_video_model(monkeypatch):
    transformers = _transformers()
    import transformers.models.edgetam.modeling_edgetam as modeling_edgetam

    class NoBackbone:  # timm (RepViT) needs torchvision, which this CPU torch lacks
        @staticmethod
        def from_config(config):
            return torch.nn.Module()

    monkeypatch.setattr(modeling_edgetam, "AutoModel", NoBackbone)
    fields = transformers_folder.transformers_config("edgetam")
    vision = {k: v for k, v in fields.pop("vision_config").items() if k != "model_type"}
    backbone = {k: v for k, v in vision.pop("backbone_config").items() if k != "model_type"}
    config = transformers.EdgeTamVideoConfig(  # sub-configs built by hand: from a dict it would ask for timm
        vision_config=transformers.EdgeTamVisionConfig(backbone_config=transformers.TimmWrapperConfig(**backbone),
                                                       **vision), **fields)
    with torch.device("meta"):
        model = transformers.EdgeTamVideoModel(config)
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in
            transformers_keys.to_transformers_state_dict(manifest_state_dict("edgetam", device="meta"), "edgetam").items()}
    backbone = "vision_encoder.backbone.timm_model."  # timm's own names under transformers' wrapper
    assert {k: v for k, v in ours.items() if not k.startswith(backbone)} == theirs
    assert {k[len(backbone):] for k in ours if k.startswith(backbone)} == {
        k[len("image_encoder.trunk.body."):] for k in manifest("edgetam")["keys"] if k.startswith("image_encoder.")
        and ".neck." not in k}


def test_checkpoint_saved_by_transformers_loads_here_and_ours_there(tmp_path, tiny_checkpoint):
    transformers = _transformers()
    torch.manual_seed(0)
    theirs = transformers.Sam2VideoModel(transformers.Sam2VideoConfig()).eval()  # SAM 2.1 tiny
    with pytest.raises(transformers_keys.KeyMappingError, match="differ"):  # a fresh model draws its two PE copies apart...
        transformers_keys.from_transformers_state_dict(dict(theirs.state_dict()), "sam2")
    with torch.no_grad():  # ...which the conversion from an official checkpoint never does
        theirs.shared_image_embedding.positional_embedding.copy_(
            theirs.prompt_encoder.shared_embedding.positional_embedding)
    theirs.save_pretrained(tmp_path / "saved")
    ours = build_sam2("sam2.1_hiera_t", str(tmp_path / "saved"), device="cpu")
    assert_same_state(transformers_keys.to_transformers_state_dict(ours.state_dict(), "sam2"),
                      dict(theirs.state_dict()))

    official = read_state_dict(tiny_checkpoint)
    transformers_folder.write_transformers_checkpoint(tmp_path / "ours", official, "sam2.1_hiera_t")
    loaded = transformers.Sam2VideoModel.from_pretrained(tmp_path / "ours")
    assert_same_state(dict(loaded.state_dict()), transformers_keys.to_transformers_state_dict(official, "sam2"))


def test_app_takes_a_transformers_folder_as_checkpoint(tiny_folder, tiny_checkpoint):
    from ui.models.registry import ModelRegistry
    from ui.common.errors import ModelUnavailableError

    loaded = ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=str(tiny_folder),
                           precision="exact").get(None)
    assert loaded.source == str(tiny_folder)
    expected = transformers_folder.read_transformers_checkpoint(tiny_folder)[1]
    assert_same_state(loaded.model.state_dict(), expected)
    # the folder's config.json is for SAM 2.1 tiny: another --model is refused; the page gets a
    # short message (no server paths), the reason travels as the cause (and goes to the log)
    with pytest.raises(ModelUnavailableError, match="could not be loaded") as info:
        ModelRegistry(device="cpu", default_model="sam2-hiera-tiny", checkpoint=str(tiny_folder)).get(None)
    assert "describes sam2.1_hiera_t" in str(info.value.__cause__)


@pytest.mark.slow
def test_transformers_computes_the_same_on_our_export(tmp_path, tiny_checkpoint, tiny_model, media_dir):
    """Names can match and still mean other things; transformers' own Sam2Model, loaded from our
    export of the tiny checkpoint, must give our image embeddings, scores and low-res logits."""
    transformers = _transformers()
    from PIL import Image

    folder = transformers_folder.write_transformers_checkpoint(tmp_path / "hf", read_state_dict(tiny_checkpoint),
                                                     "sam2.1_hiera_t")
    # 1024 x 1024, so a point means the same pixel to both (transformers' processor would rescale it)
    image = np.asarray(Image.open(media_dir / "cars.jpg").convert("RGB").resize((1024, 1024)))
    predictor = SAM2ImagePredictor(tiny_model)
    predictor.set_image(image)
    ours = [*predictor._features.high_res_feats, predictor._features.image_embed]
    _, scores, low_res = predictor.predict(np.array([[500, 300]]), np.array([1]), multimask_output=True)

    theirs_model = transformers.Sam2Model.from_pretrained(folder).eval()
    with torch.no_grad():
        pixels = predictor._transforms.forward_batch([image], device="cpu")
        theirs = theirs_model.get_image_embeddings(pixels)
        out = theirs_model(image_embeddings=theirs, input_points=torch.tensor([[[[500.0, 300.0]]]]),
                           input_labels=torch.tensor([[[1]]]), multimask_output=True)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and float((a - b).norm() / b.norm()) < 1e-5
    np.testing.assert_allclose(out.iou_scores.flatten().numpy(), scores, atol=1e-5)
    their_logits = out.pred_masks[0, 0].numpy()
    assert np.linalg.norm(low_res - their_logits) / np.linalg.norm(their_logits) < 1e-5
