"""The image-prediction snippets of the official SAM 2 usage guide run unchanged on a CPU
machine, with a (random-weight) checkpoint at ./checkpoints/sam2.1_hiera_large.pt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from tests.support import paths

REPO = paths.REPO

SNIPPETS = textwrap.dedent('''
    # --- quick start (verbatim from the guide) ---
    import torch
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    checkpoint = "./checkpoints/sam2.1_hiera_large.pt"
    model_cfg = "configs/sam2.1/sam2.1_hiera_l.yaml"
    predictor = SAM2ImagePredictor(build_sam2(model_cfg, checkpoint))

    import numpy as np
    from PIL import Image
    image = np.array(Image.open("photo.jpg").convert("RGB"))
    input_point = np.array([[500, 375]])
    input_label = np.array([1])

    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        predictor.set_image(image)
        masks, scores, logits = predictor.predict(
            point_coords=input_point, point_labels=input_label, multimask_output=True)
    sorted_ind = np.argsort(scores)[::-1]
    masks, scores, logits = masks[sorted_ind], scores[sorted_ind], logits[sorted_ind]
    print("quick", masks.shape, scores.shape, logits.shape)

    # --- refine with the previous low-res logits ---
    mask_input = logits[np.argmax(scores), :, :]
    masks, scores, _ = predictor.predict(point_coords=np.array([[500, 375], [1125, 625]]),
                                         point_labels=np.array([1, 1]),
                                         mask_input=mask_input[None, :, :], multimask_output=False)
    print("refine", masks.shape)

    # --- a box ---
    input_box = np.array([425, 600, 700, 875])
    masks, scores, _ = predictor.predict(point_coords=None, point_labels=None,
                                         box=input_box[None, :], multimask_output=False)
    print("box", masks.shape)

    # --- points and box together ---
    masks, scores, logits = predictor.predict(point_coords=np.array([[575, 750]]), point_labels=np.array([0]),
                                              box=input_box, multimask_output=False)
    print("pointbox", masks.shape)

    # --- several boxes in one call ---
    input_boxes = np.array([[75, 275, 1725, 850], [425, 600, 700, 875], [1375, 550, 1650, 800]])
    masks, scores, _ = predictor.predict(point_coords=None, point_labels=None, box=input_boxes,
                                         multimask_output=False)
    print("boxes", masks.shape)

    # --- save the mask and a cutout ---
    mask = masks[0, 0]
    Image.fromarray((mask * 255).astype(np.uint8)).save("mask.png")
    rgba = np.zeros((*image.shape[:2], 4), dtype=np.uint8)
    rgba[..., :3] = image
    rgba[mask, 3] = 255
    Image.fromarray(rgba).save("cutout.png")
    print("saved")
''')


@pytest.mark.slow
def test_usage_guide_snippets_run_unchanged(tmp_path, media_dir):
    from sam2.testing import write_random_checkpoint

    write_random_checkpoint(str(tmp_path / "checkpoints" / "sam2.1_hiera_large.pt"), "sam2.1_hiera_l", seed=0)
    Image.open(media_dir / "truck.jpg").convert("RGB").save(tmp_path / "photo.jpg")
    (tmp_path / "guide.py").write_text(SNIPPETS)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "guide.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "quick (3, 1200, 1800) (3,) (3, 256, 256)" in out
    assert "refine (1, 1200, 1800)" in out
    assert "box (1, 1200, 1800)" in out
    assert "pointbox (1, 1200, 1800)" in out
    assert "boxes (3, 1, 1200, 1800)" in out
    mask = np.array(Image.open(tmp_path / "mask.png"))
    cutout = np.array(Image.open(tmp_path / "cutout.png"))
    assert mask.shape == (1200, 1800) and cutout.shape == (1200, 1800, 4)
    np.testing.assert_array_equal(cutout[..., 3] > 0, mask > 0)
