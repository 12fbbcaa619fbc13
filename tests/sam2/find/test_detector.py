"""The Grounding DINO wrapper end to end, with no network: a miniature Grounding DINO with
random weights and a tokenizer made here, saved as a model folder, loaded like a real one.

Checks the plumbing (text -> boxes -> masks -> records -> COCO export with labels), that
the scores are the model's own numbers for the right tokens, that the PIL processors are
used (no torchvision), the Hub-cache and offline behaviour, and that everything imports
without transformers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("transformers")

from sam2.find import DEFAULT_DETECTOR, DetectorUnavailableError, find_objects, load_detector  # noqa: E402
from sam2.find.testing import save_random_grounding_dino  # noqa: E402
from tests.support import paths

REPO = str(paths.REPO)
WORDS = ["car", "person", "dog", "traffic", "light"]


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    return save_random_grounding_dino(str(tmp_path_factory.mktemp("gdino") / "grounding-dino-test"), WORDS)


@pytest.fixture(scope="module")
def detector(detector_dir):
    return load_detector(detector_dir, device="cpu")


@pytest.fixture(scope="module")
def photo():
    rng = np.random.RandomState(1)
    image = (rng.rand(90, 140, 3) * 255).astype(np.uint8)
    image[20:60, 30:90] = (200, 30, 30)
    return image


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=600, cwd=REPO)


def test_loaded_from_a_folder_with_the_pil_processor(detector):
    assert detector.kind == "grounding-dino"
    assert type(detector.processor.image_processor).__name__.endswith("Pil")  # not the torchvision one
    assert not detector.model.training


def test_scores_are_the_model_probabilities_of_each_labels_tokens(detector, photo):
    import torch

    labels = ("car", "traffic light")
    dets = detector.detect(photo, labels)
    assert len(dets) == detector.model.config.num_queries
    text = "car . traffic light ."
    inputs = detector.processor(images=photo, text=text, return_tensors="pt")
    tokens = detector.processor.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    assert tokens == ["[CLS]", "car", ".", "traffic", "light", ".", "[SEP]"]
    with torch.inference_mode():
        out = detector.model(**inputs)
    probs = out.logits[0].sigmoid()
    expected = torch.stack([probs[:, 1], probs[:, 3:5].max(dim=1).values], dim=1)  # car | traffic light
    best, which = expected.max(dim=1)
    assert [d.label for d in dets] == [labels[k] for k in which.tolist()]
    np.testing.assert_allclose([d.score for d in dets], best.numpy(), rtol=1e-5, atol=1e-6)
    h, w = photo.shape[:2]
    cx, cy, bw, bh = out.pred_boxes[0].unbind(-1)
    x0 = ((cx - bw / 2) * w).clamp(0, w)
    np.testing.assert_allclose([d.box[0] for d in dets], x0.numpy(), atol=1e-3)
    assert all(0 <= d.box[0] <= d.box[2] <= w and 0 <= d.box[1] <= d.box[3] <= h for d in dets)


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_text_to_masks_to_labelled_export(detector, photo, tiny_model):
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from ui.common.exports import ExportedMask, coco_document
    from ui.find.finder import Finder

    predictor = SAM2ImagePredictor(tiny_model)
    result = find_objects(predictor, photo, "Car, person", detector=detector, threshold=0.0, max_objects=4)
    assert len(result.objects) == 4 and set(result.counts()) == {"car", "person"}
    assert sum(result.counts().values()) == 4
    scores = [o.score for o in result.objects]
    assert scores == sorted(scores, reverse=True)
    for obj in result.objects:
        assert obj.label in ("car", "person") and obj.mask.shape == photo.shape[:2] and obj.mask.dtype == bool
        assert np.isfinite(obj.predicted_iou)
    # Through the UI adapter, as the image tab will call it, then into a COCO export.
    outcome = Finder.with_detector(detector, max_objects=4).find(predictor, photo, "car, person", 0.0)
    assert [o.label for o in outcome.objects] == [o.label for o in result.objects]
    doc = coco_document([ExportedMask(o.mask, label=o.label, predicted_iou=o.predicted_iou, box_xyxy=o.box)
                         for o in outcome.objects], photo.shape[:2])
    assert [a["label"] for a in doc["annotations"]] == [o.label for o in outcome.objects]
    assert {c["name"] for c in outcome.categories} == set(result.counts()) - set(result.missing_labels)
    assert all(outcome.category_ids[o.label] in {c["id"] for c in outcome.categories} for o in outcome.objects)


def test_short_side_resizes_grounding_dino_input(detector_dir, photo):
    from sam2.find import TransformersDetector

    base = load_detector(detector_dir, device="cpu")
    seen = []
    hook = base.model.register_forward_pre_hook(lambda mod, args, kw: seen.append(kw["pixel_values"].shape),
                                                with_kwargs=True)
    try:
        base.detect(photo, ["car"])
        TransformersDetector(base.model, base.processor, short_side=64).detect(photo, ["car"])
    finally:
        hook.remove()
    assert [tuple(s[-2:]) for s in seen] == [(96, 149), (64, 99)]  # 90x140 photo: own size, then 64 px
    with pytest.raises(ValueError, match="between 64 and 2048"):
        TransformersDetector(base.model, base.processor, short_side=10)


@pytest.mark.slow  # a fresh interpreter importing transformers; torchvision is not installed here anyway
def test_works_without_torchvision_even_where_it_is_installed(detector_dir):
    res = _run(f"""
        import sys, numpy as np
        sys.modules["torchvision"] = None  # as if not installed: imports fail, find_spec says None
        from sam2.find import load_detector
        det = load_detector({detector_dir!r}, device="cpu")
        dets = det.detect(np.zeros((40, 60, 3), np.uint8), ["dog"])
        print("OK", len(dets), sys.modules["torchvision"])  # still None: never imported
    """)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK 30 None" in res.stdout


def test_library_and_ui_import_without_transformers_and_say_why():
    res = _run("""
        import sys
        sys.modules["transformers"] = None  # as if not installed
        import sam2.find
        from sam2.find import DetectorUnavailableError, load_detector
        from ui.find.finder import Finder
        try:
            load_detector()
        except DetectorUnavailableError as e:
            print("LIB", e)
        print("UI", Finder().unavailable_reason())
    """)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LIB finding objects by text needs the `transformers` package: pip install" in res.stdout
    assert "UI Find is unavailable: it needs the `transformers` package" in res.stdout


def _hub_cache_with(cache, repo_id, folder):
    """The layout huggingface_hub leaves after a download (refs/main -> snapshots/<rev>/files)."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    rev = "1" * 40
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(rev)
    shutil.copytree(folder, os.path.join(repo, "snapshots", rev))


_LOAD_DEFAULT = """
    from sam2.find import DetectorUnavailableError, load_detector
    try:
        det = load_detector()
        print("LOADED", det.kind, det.name)
    except DetectorUnavailableError as e:
        print("MSG", e)
"""


@pytest.mark.slow
def test_hub_id_loads_offline_from_the_cache(tmp_path, detector_dir):
    cache = str(tmp_path / "hf" / "hub")
    _hub_cache_with(cache, DEFAULT_DETECTOR, detector_dir)
    res = _run(_LOAD_DEFAULT, HF_HUB_OFFLINE="1", HF_HUB_CACHE=cache, HF_HOME=os.path.dirname(cache))
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"LOADED grounding-dino {DEFAULT_DETECTOR}" in res.stdout


def test_hub_id_offline_and_not_cached_says_how_to_fix_it(tmp_path):
    empty = str(tmp_path / "empty" / "hub")
    os.makedirs(empty)
    res = _run(_LOAD_DEFAULT, HF_HUB_OFFLINE="1", HF_HUB_CACHE=empty, HF_HOME=os.path.dirname(empty))
    assert res.returncode == 0, res.stderr[-3000:]
    msg = res.stdout
    assert "MSG could not get the detector IDEA-Research/grounding-dino-tiny: offline mode is on" in msg
    assert "Check the network connection" in msg and "--local-dir" in msg


def test_a_wrong_folder_is_named(tmp_path):
    with pytest.raises(DetectorUnavailableError, match="detector folder not found"):
        load_detector(str(tmp_path / "nowhere"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{}")
    with pytest.raises(DetectorUnavailableError, match="could not load the detector"):
        load_detector(str(tmp_path / "junk"))


def test_owlv2_boxes_and_scores_match_transformers_own_post_processing(tmp_path):
    import torch

    from sam2.find.testing import save_random_owlv2

    det = load_detector(save_random_owlv2(str(tmp_path / "owlv2"), ["car", "dog"]), device="cpu")
    assert det.kind == "owlv2" and type(det.processor.image_processor).__name__.endswith("Pil")
    image = (np.random.RandomState(2).rand(50, 80, 3) * 255).astype(np.uint8)  # wide: padded to a square
    dets = det.detect(image, ["car", "dog"])
    inputs = det.processor(text=[["car", "dog"]], images=image, return_tensors="pt")
    assert inputs["input_ids"].tolist()[0][1] != inputs["input_ids"].tolist()[1][1]  # one token per word
    with torch.inference_mode():
        ref = det.processor.post_process_grounded_object_detection(
            det.model(**inputs), threshold=-1.0, target_sizes=[image.shape[:2]])[0]
    boxes = ref["boxes"].numpy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, 80)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, 50)
    np.testing.assert_allclose([d.box for d in dets], boxes, atol=1e-3)
    np.testing.assert_allclose([d.score for d in dets], ref["scores"].numpy(), rtol=1e-5, atol=1e-6)
    assert [d.label for d in dets] == [["car", "dog"][k] for k in ref["labels"].tolist()]
    scores = np.array([d.score for d in dets])
    assert scores.std() > 0.01 and 0 < scores.min() and scores.max() < 1  # a real test of the scores
