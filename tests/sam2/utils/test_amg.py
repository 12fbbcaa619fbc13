"""Unit tests of sam2.utils.amg on synthetic masks, logits and boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sam2.utils import amg

mask_utils = pytest.importorskip("pycocotools.mask")


def random_masks(rng, b, h, w, density=None):
    density = rng.random() * 0.5 if density is None else density
    return torch.from_numpy(rng.random((b, h, w)) < density)


# ----------------------------------------------------------------------------- boxes


def test_mask_to_box_inclusive_pixel_ends():
    m = torch.zeros(3, 6, 8, dtype=torch.bool)
    m[0, 1:4, 2:7] = True  # rows 1..3, cols 2..6
    m[1, 5, 0] = True  # a single pixel at x=0, y=5
    boxes = amg.batched_mask_to_box(m)
    assert boxes.tolist() == [[2, 1, 6, 3], [0, 5, 0, 5], [0, 0, 0, 0]]  # empty -> zeros


def test_mask_to_box_shapes():
    m = torch.zeros(2, 3, 5, 5, dtype=torch.bool)
    m[1, 2, 4, 4] = True
    out = amg.batched_mask_to_box(m)
    assert out.shape == (2, 3, 4)
    assert out[1, 2].tolist() == [4, 4, 4, 4] and out.sum().item() == 16
    single = torch.zeros(4, 4, dtype=torch.bool)
    single[1, 2] = True
    assert amg.batched_mask_to_box(single).tolist() == [2, 1, 2, 1]
    assert amg.batched_mask_to_box(torch.zeros(0, 4, 4, dtype=torch.bool)).shape == (0, 4)


def test_box_conversions_round_trip():
    xyxy = torch.tensor([[2.0, 3.0, 10.0, 7.0], [0.0, 0.0, 0.0, 0.0]])
    xywh = amg.box_xyxy_to_xywh(xyxy)
    assert xywh.tolist() == [[2, 3, 8, 4], [0, 0, 0, 0]]
    assert torch.equal(amg.box_xywh_to_xyxy(xywh), xyxy)
    assert xyxy[0, 2] == 10  # input untouched
    assert amg.box_xyxy_to_xywh([1, 2, 4, 8]) == [1, 2, 3, 6]
    arr = np.array([5, 5, 6, 9])
    assert amg.box_xyxy_to_xywh(arr).tolist() == [5, 5, 1, 4] and arr.tolist() == [5, 5, 6, 9]
    with pytest.raises(ValueError, match="4 coordinates"):
        amg.box_xyxy_to_xywh(torch.zeros(3))


def test_box_area():
    assert amg.box_area(torch.tensor([[0, 0, 10, 5], [3, 3, 4, 4]])).tolist() == [50, 1]


# ----------------------------------------------------------------------------- NMS


def greedy_nms_reference(boxes: np.ndarray, scores: np.ndarray, thr: float):
    """Straightforward greedy NMS, pair by pair in float32 like torchvision's CPU kernel."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    f = np.float32
    areas = [f(f(b[2] - b[0]) * f(b[3] - b[1])) for b in boxes]
    suppressed, keep = set(), []
    for pos, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            w = max(f(0), f(min(boxes[i][2], boxes[j][2]) - max(boxes[i][0], boxes[j][0])))
            h = max(f(0), f(min(boxes[i][3], boxes[j][3]) - max(boxes[i][1], boxes[j][1])))
            inter = f(w * h)
            union = f(f(areas[i] + areas[j]) - inter)
            iou = math.nan if union == 0 else float(f(inter / union))
            if iou > thr:
                suppressed.add(j)
    return keep


def test_nms_matches_greedy_definition_on_random_boxes():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(1, 40))
        xy = rng.integers(0, 30, (n, 2))
        wh = rng.integers(0, 20, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        scores = (rng.integers(0, 4, n) if trial % 2 else rng.random(n)).astype(np.float32)  # ties half the time
        for thr in (0.0, 0.3, 0.7, 0.98):
            got = amg.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.zeros(n, dtype=torch.int64), thr)
            assert got.tolist() == greedy_nms_reference(boxes, scores, thr), (trial, thr)


def test_nms_threshold_is_strict_and_compared_in_double():
    a = [0.0, 0.0, 4.0, 1.0]
    # IoU exactly 0.5: kept at threshold 0.5, suppressed just below
    boxes = torch.tensor([a, [0.0, 0.0, 2.0, 1.0]])
    scores = torch.tensor([0.9, 0.8])
    assert amg.nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert amg.nms(boxes, scores, 0.49).tolist() == [0]
    # IoU 98/100 is float32(0.98) = 0.98000002 > 0.98: torchvision suppresses it
    boxes = torch.tensor([[0.0, 0.0, 50.0, 2.0], [0.0, 0.0, 49.0, 2.0]])
    assert amg.nms(boxes, scores, 0.98).tolist() == [0]


def test_nms_ties_keep_input_order():
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10], [40, 40, 50, 50]])
    scores = torch.tensor([0.5, 0.5, 0.5, 0.7])
    # the first of two identical boxes with equal scores wins; equal scores stay in input order
    assert amg.batched_nms(boxes, scores, torch.zeros(4, dtype=torch.int64), 0.7).tolist() == [3, 0, 1]


def test_nms_categories_are_independent():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert amg.batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert amg.batched_nms(boxes, scores, torch.tensor([0, 0, 0]), 0.5).tolist() == [0]


def test_nms_degenerate_and_empty_inputs():
    point = [3.0, 3.0, 3.0, 3.0]  # a one-pixel mask's box has zero area: IoU 0/0 suppresses nothing
    assert amg.nms(torch.tensor([point, point]), torch.tensor([0.2, 0.1]), 0.5).tolist() == [0, 1]
    empty = amg.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert empty.dtype == torch.int64 and empty.numel() == 0
    with pytest.raises(ValueError, match="N x 4"):
        amg.nms(torch.zeros(3, 5), torch.zeros(3), 0.5)


def test_nms_many_boxes_per_category_route():
    # above 1000 boxes torchvision runs one NMS per category and re-sorts by score
    rng = np.random.default_rng(1)
    n = 1200
    xy = rng.integers(0, 200, (n, 2))
    boxes = torch.from_numpy(np.concatenate([xy, xy + rng.integers(1, 40, (n, 2))], 1).astype(np.float32))
    scores = torch.from_numpy(rng.random(n).astype(np.float32))
    idxs = torch.from_numpy(rng.integers(0, 2, n))
    keep = amg.batched_nms(boxes, scores, idxs, 0.5)
    expected = set()
    for c in (0, 1):
        members = torch.where(idxs == c)[0]
        expected |= {int(members[k]) for k in amg.nms(boxes[members], scores[members], 0.5)}
    assert set(keep.tolist()) == expected and len(keep) == len(expected)
    assert torch.all(scores[keep][:-1] >= scores[keep][1:])


# ----------------------------------------------------------------------------- RLE


def test_uncompressed_rle_by_hand():
    m = torch.tensor([[[0, 1, 1], [0, 1, 0]]], dtype=torch.bool)  # column-major: 0 0 1 1 1 0
    rle = amg.mask_to_rle_pytorch(m)[0]
    assert rle == {"size": [2, 3], "counts": [2, 3, 1]}
    starts_on = torch.tensor([[[1, 0], [1, 1]]], dtype=torch.bool)  # column-major: 1 1 0 1
    assert amg.mask_to_rle_pytorch(starts_on)[0]["counts"] == [0, 2, 1, 1]
    assert amg.mask_to_rle_pytorch(torch.ones(1, 2, 2, dtype=torch.bool))[0]["counts"] == [0, 4]
    assert amg.mask_to_rle_pytorch(torch.zeros(1, 2, 2, dtype=torch.bool))[0]["counts"] == [4]
    assert amg.mask_to_rle_pytorch(torch.zeros(0, 2, 2, dtype=torch.bool)) == []


def test_rle_round_trips_and_matches_pycocotools():
    rng = np.random.default_rng(2)
    for _ in range(30):
        b, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 30)), int(rng.integers(1, 30))
        masks = random_masks(rng, b, h, w)
        for mask, rle in zip(masks, amg.mask_to_rle_pytorch(masks)):
            np_mask = mask.numpy()
            assert np.array_equal(amg.rle_to_mask(rle), np_mask)
            assert amg.area_from_rle(rle) == int(np_mask.sum())
            coco = amg.coco_encode_rle(rle)
            ref = mask_utils.encode(np.asfortranarray(np_mask.astype(np.uint8)))
            assert coco["counts"] == ref["counts"].decode("ascii") and coco["size"] == list(ref["size"])
            assert np.array_equal(mask_utils.decode({"size": coco["size"], "counts": coco["counts"].encode()}), np_mask)
            assert int(mask_utils.area(ref)) == amg.area_from_rle(rle)
            assert amg.coco_decode_rle(coco) == rle
            assert np.array_equal(amg.rle_to_mask(coco), np_mask)
            assert amg.mask_to_coco_rle(np_mask) == coco


def test_coco_rle_large_and_negative_deltas():
    # long runs (multi-character values) and counts that shrink (negative deltas)
    h, w = 300, 257
    mask = np.zeros((h, w), dtype=bool)
    mask[:, 5:200] = True
    mask[100:101, 210:211] = True
    mask[17:290, 230:256] = True
    coco = amg.mask_to_coco_rle(mask)
    ref = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert coco["counts"] == ref["counts"].decode("ascii")
    assert np.array_equal(amg.rle_to_mask({"size": [h, w], "counts": ref["counts"]}), mask)


def test_rle_of_crops_pasted_in_the_full_image():
    rng = np.random.default_rng(3)
    for _ in range(30):
        H, W = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        x0, y0 = int(rng.integers(0, W)), int(rng.integers(0, H))
        x1, y1 = int(rng.integers(x0 + 1, W + 1)), int(rng.integers(y0 + 1, H + 1))
        masks = random_masks(rng, 3, y1 - y0, x1 - x0)
        masks[0, 0, :] = True  # touching the crop's top edge
        masks[1] = True  # the whole crop
        pasted = amg.uncrop_masks(masks, [x0, y0, x1, y1], H, W)
        assert pasted.shape == (3, H, W) and torch.equal(pasted[:, y0:y1, x0:x1], masks)
        assert amg.masks_to_rle(masks, [x0, y0, x1, y1], (H, W)) == amg.mask_to_rle_pytorch(pasted)
    with pytest.raises(ValueError, match="does not fit"):
        amg.masks_to_rle(torch.zeros(1, 4, 4, dtype=torch.bool), [0, 0, 5, 4], (10, 10))


def test_rle_decode_rejects_inconsistent_counts():
    with pytest.raises(ValueError, match="add up"):
        amg.rle_to_mask({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(ValueError, match="invalid character"):
        amg.coco_decode_rle({"size": [2, 2], "counts": "4 "})


# ----------------------------------------------------------------------------- quality


def test_stability_score_counts_pixels_at_both_cuts():
    logits = torch.full((2, 4, 5), -5.0)
    logits[0, :2, :] = 3.0  # 10 px above +1
    logits[0, 2, :] = 0.5  # 5 px between -1 and +1
    logits[1, 0, 0] = 0.5  # nothing above +1, one px above -1
    score = amg.calculate_stability_score(logits, 0.0, 1.0)
    assert score.dtype == torch.float32
    assert score.tolist() == pytest.approx([10 / 15, 0.0])
    assert math.isnan(amg.calculate_stability_score(torch.full((1, 3, 3), -9.0), 0.0, 1.0).item())
    # a different threshold moves both cuts
    assert amg.calculate_stability_score(logits, 2.5, 1.0)[0].item() == 0.0


def test_mask_confidence():
    logits = torch.full((3, 4, 4), -4.0)
    logits[0, :2] = 6.0  # 8 px, all far above the cut
    logits[1, 0, 0] = 0.5  # 1 px, barely in
    logits[1, 0, 1] = -0.5  # and one px just out
    stab, mean_abs = amg.mask_confidence(logits)
    assert stab.tolist() == pytest.approx([1.0, 0.0, 0.0])  # empty third mask: 0 rather than NaN
    assert mean_abs.tolist() == pytest.approx([6.0, 0.5, 0.0])
    np_stab, np_mean = amg.mask_confidence(logits[1].numpy(), mask_threshold=-1.0, offset=0.75)
    assert isinstance(np_stab, np.ndarray) and np_stab.shape == ()
    assert float(np_stab) == pytest.approx(0.5) and float(np_mean) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="H x W"):
        amg.mask_confidence(np.zeros(5))


# ----------------------------------------------------------------------------- grids and crops


def test_point_grid():
    assert amg.build_point_grid(2).tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    g = amg.build_point_grid(32)
    assert g.shape == (1024, 2) and g.min() == pytest.approx(1 / 64) and g.max() == pytest.approx(63 / 64)
    layers = amg.build_all_layer_point_grids(32, 2, 2)
    assert [len(x) for x in layers] == [1024, 256, 64]
    assert [len(x) for x in amg.build_all_layer_point_grids(7, 1, 1)] == [49, 49]
    with pytest.raises(ValueError):
        amg.build_point_grid(0)


def test_crop_boxes_layers_and_overlap():
    boxes, layers = amg.generate_crop_boxes((100, 200), 1, 512 / 1500)
    assert boxes == [[0, 0, 200, 100], [0, 0, 117, 67], [0, 33, 117, 100], [83, 0, 200, 67], [83, 33, 200, 100]]
    assert layers == [0, 1, 1, 1, 1]
    boxes, layers = amg.generate_crop_boxes((534, 800), 2, 512 / 1500)
    assert layers == [0] + [1] * 4 + [2] * 16
    for layer in (1, 2):
        covered = np.zeros((534, 800), dtype=int)
        for (x0, y0, x1, y1), li in zip(boxes, layers):
            if li == layer:
                assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 534
                covered[y0:y1, x0:x1] += 1
        assert covered.min() >= 1 and covered.max() > 1  # the crops tile the image with overlap
    assert amg.generate_crop_boxes((10, 10), 0, 0.3) == ([[0, 0, 10, 10]], [0])


def test_uncrop_helpers():
    boxes = torch.tensor([[1, 2, 3, 4]])
    assert amg.uncrop_boxes_xyxy(boxes, [10, 20, 50, 60]).tolist() == [[11, 22, 13, 24]]
    assert amg.uncrop_boxes_xyxy(boxes[None], [10, 20, 50, 60]).shape == (1, 1, 4)
    pts = torch.tensor([[1.5, 2.5]])
    assert amg.uncrop_points(pts, [10, 20, 50, 60]).tolist() == [[11.5, 22.5]]
    m = torch.ones(1, 2, 3, dtype=torch.bool)
    assert amg.uncrop_masks(m, [0, 0, 3, 2], 2, 3) is m
    full = amg.uncrop_masks(m, [1, 1, 4, 3], 4, 5)
    assert full.shape == (1, 4, 5) and full.sum() == 6 and full[0, 1:3, 1:4].all()


def test_box_near_crop_edge():
    crop, image = [100, 0, 200, 100], [0, 0, 300, 100]
    boxes = torch.tensor([
        [0, 30, 50, 60],  # touches the crop's left edge, which is inside the image
        [40, 30, 60, 60],  # in the middle of the crop
        [30, 0, 60, 99],  # touches top and bottom, which are image edges too
        [50, 40, 95, 60],  # within 20 px of the crop's right edge
    ])
    assert amg.is_box_near_crop_edge(boxes, crop, image).tolist() == [True, False, False, True]
    # the full-image "crop" never flags anything
    assert not amg.is_box_near_crop_edge(boxes, image, image).any()


def test_batch_iterator():
    a, b = list(range(7)), np.arange(7) * 2
    batches = list(amg.batch_iterator(3, a, b))
    assert [x for x, _ in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[2][1].tolist() == [12]
    with pytest.raises(ValueError):
        list(amg.batch_iterator(2, [1, 2], [1]))


# ----------------------------------------------------------------------------- cleanup


def test_remove_small_regions():
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 2:12] = True
    mask[5:7, 5:7] = False  # 4 px hole
    mask[15:17, 15:16] = True  # 2 px island
    filled, changed = amg.remove_small_regions(mask, 5, "holes")
    assert changed and filled[5:7, 5:7].all() and filled[15:17, 15].all()
    cleaned, changed = amg.remove_small_regions(filled, 5, "islands")
    assert changed and not cleaned[15:17, 15].any() and cleaned.sum() == 100
    same, changed = amg.remove_small_regions(cleaned, 5, "islands")
    assert not changed and np.array_equal(same, cleaned)
    # when every island is small the largest survives
    specks = np.zeros((10, 10), dtype=bool)
    specks[0, 0] = True
    specks[5:7, 5] = True
    kept, changed = amg.remove_small_regions(specks, 50, "islands")
    assert changed and kept.sum() == 2 and kept[5:7, 5].all()
    # diagonal neighbours are connected (8-connectivity)
    diag = np.eye(6, dtype=bool)
    assert not amg.remove_small_regions(diag, 5, "islands")[1]
    assert not amg.remove_small_regions(np.zeros((4, 4), bool), 5, "islands")[1]
    with pytest.raises(ValueError, match="mode"):
        amg.remove_small_regions(mask, 5, "specks")


# ----------------------------------------------------------------------------- container


def make_data(n, offset=0):
    masks = torch.zeros(n, 4, 4, dtype=torch.bool)
    for i in range(n):
        masks[i, : (i % 4) + 1, 0] = True
    return amg.MaskData(
        rles=amg.mask_to_rle_pytorch(masks),
        boxes=amg.batched_mask_to_box(masks),
        iou_preds=torch.arange(n, dtype=torch.float32) + offset,
        points=torch.zeros(n, 2),
        stability_score=torch.ones(n),
        crop_boxes=torch.tensor([[0, 0, 4, 4]]).repeat(n, 1),
    )


def test_mask_data_filter_and_cat():
    d = make_data(5)
    assert len(d) == 5 and d["iou_preds"] is d.iou_preds
    by_mask = d.filter(torch.tensor([True, False, True, False, False]))
    by_index = d.filter(torch.tensor([4, 0]))
    assert by_mask.iou_preds.tolist() == [0, 2] and len(by_mask.rles) == 2
    assert by_index.iou_preds.tolist() == [4, 0] and by_index.rles[0] == d.rles[4]
    both = amg.MaskData.cat([by_mask, make_data(2, offset=10), amg.MaskData()])
    assert both.iou_preds.tolist() == [0, 2, 10, 11] and len(both.rles) == 4
    assert len(amg.MaskData.cat([])) == 0
    with pytest.raises(ValueError, match="disagree"):
        amg.MaskData(rles=d.rles, boxes=d.boxes[:2], iou_preds=d.iou_preds, points=d.points,
                     stability_score=d.stability_score, crop_boxes=d.crop_boxes)
    with pytest.raises(KeyError):
        d["masks"]


def test_count_pixels_matches_a_torch_sum():
    torch.manual_seed(0)
    masks = torch.rand(2, 3, 37, 41) > 0.6
    assert torch.equal(amg.count_pixels(masks), masks.sum(dim=(-2, -1)))
    assert amg.count_pixels(masks).shape == (2, 3)
    assert amg.count_pixels(torch.zeros(0, 5, 5, dtype=torch.bool)).shape == (0,)
    strided = masks[:, :, ::2, 1:]  # not contiguous
    assert torch.equal(amg.count_pixels(strided), strided.sum(dim=(-2, -1)))
