"""The automatic mask generator's pipeline, driven by a synthetic predictor (tests/amg_fakes.py).

``tests/data/amg_fake_reference.json`` holds what the reference implementation's generator
returned when driven by the same fake predictor on the same painted scene: with identical
decoder outputs, our grids, crops, filters, NMS and encodings must give identical records,
in the same order.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sam2.automatic_mask_generator as amg_module
from tests.support.amg_fakes import FakePredictor, painted_scene
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.utils import amg
from tests.support import paths

mask_utils = pytest.importorskip("pycocotools.mask")

FAKE_REFERENCE = paths.TEST_DATA / "amg_fake_reference.json"


@pytest.fixture
def fake(monkeypatch):
    """Generators built in the test get a FakePredictor; the fixture returns a factory."""
    monkeypatch.setattr(amg_module, "SAM2ImagePredictor", FakePredictor)

    def make(**kwargs) -> SAM2AutomaticMaskGenerator:
        return SAM2AutomaticMaskGenerator(None, **kwargs)

    return make


@pytest.fixture(scope="module")
def scene():
    return painted_scene()


def reference_cases():
    with open(FAKE_REFERENCE) as f:
        return json.load(f)["cases"]


@pytest.mark.parametrize("case", sorted(reference_cases()))
def test_records_match_reference_pipeline(fake, scene, case):
    spec = reference_cases()[case]
    records = fake(output_mode="coco_rle", **spec["params"]).generate(scene)
    expected = spec["records"]
    assert len(records) == len(expected)
    for i, (got, exp) in enumerate(zip(records, expected)):
        assert got["segmentation"]["counts"] == exp["counts"], i
        assert got["segmentation"]["size"] == list(scene.shape[:2])
        for key in ("area", "bbox", "point_coords", "crop_box"):
            assert got[key] == exp[key], (i, key)
        assert got["predicted_iou"] == pytest.approx(exp["predicted_iou"], abs=1e-6)
        assert got["stability_score"] == pytest.approx(exp["stability_score"], abs=1e-6)


def test_record_format_and_consistency(fake, scene):
    records = fake(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0).generate(scene)
    assert records
    for r in records:
        assert set(r) == {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"}
        seg = r["segmentation"]
        assert seg.dtype == np.bool_ and seg.shape == scene.shape[:2]
        assert isinstance(r["area"], int) and r["area"] == int(seg.sum())
        ys, xs = np.nonzero(seg)
        assert r["bbox"] == [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]
        assert all(isinstance(v, float) for v in r["bbox"] + r["crop_box"] + r["point_coords"][0])
        assert isinstance(r["predicted_iou"], float) and isinstance(r["stability_score"], float)
        assert r["crop_box"] == [0.0, 0.0, float(scene.shape[1]), float(scene.shape[0])]
    # a single crop: best predicted IoU first
    ious = [r["predicted_iou"] for r in records]
    assert ious == sorted(ious, reverse=True)


def test_output_modes_describe_the_same_masks(fake, scene):
    params = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    binary = fake(**params).generate(scene)
    unc = fake(output_mode="uncompressed_rle", **params).generate(scene)
    coco = fake(output_mode="coco_rle", **params).generate(scene)
    assert len(binary) == len(unc) == len(coco) > 0
    for b, u, c in zip(binary, unc, coco):
        assert np.array_equal(amg.rle_to_mask(u["segmentation"]), b["segmentation"])
        decoded = mask_utils.decode({"size": c["segmentation"]["size"], "counts": c["segmentation"]["counts"].encode()})
        assert np.array_equal(decoded.astype(bool), b["segmentation"])
        assert isinstance(c["segmentation"]["counts"], str)
        json.dumps(u["segmentation"]), json.dumps(c["segmentation"])  # serialisable as is


def test_quality_filters(fake, scene):
    loose = fake(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0).generate(scene)
    strict = fake(points_per_side=8, pred_iou_thresh=0.7, stability_score_thresh=0.9, box_nms_thresh=1.0).generate(scene)
    assert 0 < len(strict) < len(loose)
    assert all(r["predicted_iou"] > 0.7 and r["stability_score"] >= 0.9 for r in strict)
    kept = {(tuple(r["point_coords"][0]), r["predicted_iou"], r["area"]) for r in strict}
    survivors = {(tuple(r["point_coords"][0]), r["predicted_iou"], r["area"]) for r in loose
                 if r["predicted_iou"] > 0.7 and r["stability_score"] >= 0.9}
    assert kept == survivors  # without NMS the filters are exactly per-mask cuts


def test_box_nms_within_crop(fake, scene):
    records = fake(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.5).generate(scene)
    boxes = torch.tensor([amg.box_xywh_to_xyxy(r["bbox"]) for r in records])
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            keep = amg.nms(boxes[[i, j]], torch.tensor([1.0, 0.0]), 0.5)
            assert keep.tolist() == [0, 1], "two kept masks overlap by more than the NMS threshold"


def test_crops_process_every_crop_and_drop_cut_masks(fake, scene):
    gen = fake(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=1, crop_nms_thresh=0.7)
    records = gen.generate(scene)
    crop_boxes, _ = amg.generate_crop_boxes(scene.shape[:2], 1, 512 / 1500)
    assert gen.predictor.set_image_calls == [(y1 - y0, x1 - x0) for x0, y0, x1, y1 in crop_boxes]
    assert gen.predictor._orig_hw is None  # the predictor is reset after each crop
    h, w = scene.shape[:2]
    xywh_crops = {tuple(float(v) for v in amg.box_xyxy_to_xywh(c)) for c in crop_boxes}
    for r in records:
        assert tuple(r["crop_box"]) in xywh_crops
        x0, y0, cw, ch = r["crop_box"]
        bx, by, bw, bh = r["bbox"]
        # a mask from an inner crop never reaches within 20 px of a crop edge inside the image
        for edge, at_image_edge, value in (
            (x0, x0 == 0, bx), (y0, y0 == 0, by), (x0 + cw, x0 + cw == w, bx + bw), (y0 + ch, y0 + ch == h, by + bh),
        ):
            assert at_image_edge or abs(value - edge) > 20
        # every mask lies inside its crop
        assert x0 <= bx and bx + bw < x0 + cw and y0 <= by and by + bh < y0 + ch
        ys, xs = np.nonzero(r["segmentation"])
        assert xs.min() >= x0 and ys.min() >= y0
    # duplicates between crops are resolved: no two kept masks overlap beyond crop_nms_thresh
    boxes = torch.tensor([amg.box_xywh_to_xyxy(r["bbox"]) for r in records]).float()
    assert len(amg.nms(boxes, torch.zeros(len(boxes)), 0.7)) == len(records)
    # smaller crops come first
    areas = [r["crop_box"][2] * r["crop_box"][3] for r in records]
    assert areas == sorted(areas)


def test_batching_and_memory_slicing_do_not_change_results(fake, scene):
    params = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    base_gen = fake(points_per_batch=64, **params)
    base = base_gen.generate(scene)
    assert base_gen.predictor.decoder_batches == [36]
    small = fake(points_per_batch=5, **params)
    sliced = fake(points_per_batch=64, max_logits_bytes=3 * 4 * scene.shape[0] * scene.shape[1] * 4, **params)
    for gen, batches in ((small, [5] * 7 + [1]), (sliced, [36])):  # the slicing is after the decoder
        out = gen.generate(scene)
        assert gen.predictor.decoder_batches == batches
        assert len(out) == len(base)
        for a, b in zip(out, base):
            assert np.array_equal(a["segmentation"], b["segmentation"])
            assert (a["bbox"], a["predicted_iou"], a["point_coords"]) == (b["bbox"], b["predicted_iou"], b["point_coords"])


def test_m2m_feeds_low_res_masks_back(fake, scene):
    gen = fake(points_per_side=4, points_per_batch=8, use_m2m=True, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    records = gen.generate(scene)
    assert gen.predictor.mask_inputs_seen == 16 * 3
    assert gen.predictor.decoder_batches == [8, 8, 8, 8, 8, 8, 8, 8]  # 2 grid batches + 3 x 2 refinements
    assert records


def test_single_mask_output(fake, scene):
    gen = fake(points_per_side=4, multimask_output=False, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
    records = gen.generate(scene)
    assert 0 < len(records) <= 16


def test_empty_result(fake, scene, monkeypatch):
    def nothing(self, x, y):
        return np.full((3,) + self._image.shape[:2], -5.0, dtype=np.float32), np.full(3, 0.9, dtype=np.float32)

    monkeypatch.setattr(FakePredictor, "_candidates", nothing)
    for layers in (0, 1):
        assert fake(points_per_side=4, crop_n_layers=layers).generate(scene) == []
    # With the stability filter off, empty masks (NaN stability) survive, as in the reference;
    # their boxes have no area, so the NMS (IoU 0/0) doesn't merge them either.
    recs = fake(points_per_side=2, stability_score_thresh=0.0, box_nms_thresh=0.7).generate(scene)
    assert len(recs) == 4 * 3
    assert all(r["area"] == 0 and r["bbox"] == [0.0] * 4 and np.isnan(r["stability_score"]) for r in recs)


def test_explicit_point_grids(fake, scene):
    grid = np.array([[0.1, 0.1], [0.9, 0.9]])
    gen = fake(points_per_side=None, point_grids=[grid], pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
    records = gen.generate(scene)
    h, w = scene.shape[:2]
    assert {tuple(r["point_coords"][0]) for r in records} <= {(0.1 * w, 0.1 * h), (0.9 * w, 0.9 * h)}


def test_invalid_options(fake):
    with pytest.raises(ValueError, match="exactly one"):
        fake(points_per_side=None)
    with pytest.raises(ValueError, match="exactly one"):
        fake(points_per_side=8, point_grids=[np.zeros((1, 2))])
    with pytest.raises(ValueError, match="output_mode"):
        fake(output_mode="png")
    with pytest.raises(ValueError, match="crop_n_layers=1 needs 2"):
        fake(points_per_side=None, point_grids=[np.zeros((1, 2))], crop_n_layers=1)
    with pytest.raises(ValueError, match="points_per_batch"):
        fake(points_per_batch=0)
    with pytest.raises(ValueError, match="no points"):
        fake(points_per_side=2, crop_n_layers=2, crop_n_points_downscale_factor=2)
    with pytest.warns(UserWarning, match="pred_iou_threshold"):
        fake(pred_iou_threshold=0.5)
    fake(device="cpu")  # builder options are accepted silently (the reference passes them along)


def test_postprocess_small_regions(fake):
    masks = torch.zeros(3, 30, 30, dtype=torch.bool)
    masks[0, 2:20, 2:20] = True
    masks[0, 8:10, 8:10] = False  # a hole
    masks[1, 2:20, 2:20] = True  # the same mask without the hole: a duplicate after cleanup
    masks[2, 25:27, 25:27] = True  # a tiny island elsewhere (kept: the largest of its mask)
    data = amg.MaskData(
        rles=amg.mask_to_rle_pytorch(masks),
        boxes=amg.batched_mask_to_box(masks),
        iou_preds=torch.tensor([0.9, 0.8, 0.7]),
        points=torch.zeros(3, 2),
        stability_score=torch.ones(3),
        crop_boxes=torch.tensor([[0, 0, 30, 30]]).repeat(3, 1),
    )
    out = SAM2AutomaticMaskGenerator.postprocess_small_regions(data, min_area=10, nms_thresh=0.7)
    # the untouched duplicate (index 1) wins over the repaired mask 0; mask 2 is unchanged
    assert out.iou_preds.tolist() == pytest.approx([0.8, 0.7])
    assert amg.area_from_rle(out.rles[0]) == 18 * 18


def test_from_pretrained_splits_options(monkeypatch):
    import sam2.assembly as assembly
    import sam2.hub as hub

    seen = {}

    def fake_build(config_name, ckpt_path, **kwargs):
        seen["cfg"], seen["kwargs"] = (config_name, ckpt_path), kwargs
        return None

    monkeypatch.setattr(hub, "hf_download", lambda model_id: ("sam2.1_hiera_t", f"/cache/{model_id}.pt"))
    monkeypatch.setattr(assembly, "build_image_model", fake_build)
    monkeypatch.setattr(amg_module, "SAM2ImagePredictor", FakePredictor)
    gen = SAM2AutomaticMaskGenerator.from_pretrained("facebook/sam2.1-hiera-tiny", points_per_side=4, device="cpu")
    assert seen == {"cfg": ("sam2.1_hiera_t", "/cache/facebook/sam2.1-hiera-tiny.pt"), "kwargs": {"device": "cpu"}}
    assert len(gen.point_grids[0]) == 16


def test_progress_counts_every_batch_and_leaves_records_unchanged(fake, scene):
    params = dict(points_per_side=8, points_per_batch=10, crop_n_layers=1, pred_iou_thresh=0.0,
                  stability_score_thresh=0.0, output_mode="coco_rle")
    plain = fake(**params).generate(scene)
    gen = fake(**params)
    seen = []
    with_hooks = gen.generate(scene, progress=lambda done, total: seen.append((done, total)),
                              stop=lambda: False)
    total = gen.count_batches(scene.shape[:2])
    assert total == 5 * 7  # 5 crops (the image + 4), 64 points in batches of 10
    assert seen == [(i, total) for i in range(1, total + 1)]
    assert with_hooks == plain


def test_stop_flag_ends_the_run_within_one_batch(fake, scene):
    import threading

    from sam2.automatic_mask_generator import GenerationCancelled

    stop = threading.Event()
    decoded = []
    gen = fake(points_per_side=8, points_per_batch=4, crop_n_layers=1)
    real_decode = gen.predictor._decode

    def counting_decode(*args, **kwargs):
        decoded.append(1)
        return real_decode(*args, **kwargs)

    gen.predictor._decode = counting_decode

    def progress(done, total):
        if done == 3:
            stop.set()

    with pytest.raises(GenerationCancelled, match="3 of"):
        gen.generate(scene, progress=progress, stop=stop)
    assert len(decoded) == 3  # no batch after the one that saw the flag
    # The generator is reusable afterwards, and a set flag stops it before any work.
    with pytest.raises(GenerationCancelled):
        gen.generate(scene, stop=stop)
    assert len(decoded) == 3
