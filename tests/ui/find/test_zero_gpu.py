"""Find on a ZeroGPU Space: the detector and SAM 2 run inside ``spaces.GPU`` functions.

A fake ``spaces`` package (put first on ``sys.path`` of a fresh interpreter, with
``SPACES_ZERO_GPU=1``, as on a Space) records every GPU call and, like the real worker,
pickles the arguments and the result across it. The run checks that Find, the boxes-file
upload and the video tab's boxes each go through a GPU function, that what crosses is plain
data (no model inside: the pickled arguments are about the image's size), and that the
results equal those of the same calls made without ZeroGPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.hub_cache import REPO_ROOT

FAKE_SPACES = '''
import pickle

CALLS = []


def GPU(fn=None, duration=None):
    def wrap(f):
        def call(*args, **kwargs):
            sent = pickle.dumps((args, kwargs))
            args, kwargs = pickle.loads(sent)
            out = pickle.loads(pickle.dumps(f(*args, **kwargs)))
            CALLS.append({"name": f.__name__, "duration": duration, "sent_bytes": len(sent)})
            return out
        call.__name__ = f.__name__
        return call
    return wrap(fn) if fn is not None else wrap
'''

SCENARIO = '''
import json, sys
import numpy as np
import spaces
from ui.common import spaces as ui_spaces
from ui.find.finder import Finder, boxes_file_boxes, boxes_from_file
from ui.image.engine import ImageEngine
from ui.models.shared_registry import image_predictor
from ui.models.registry import ModelRegistry
from sam2.find import Detection
from sam2.find.testing import StandInDetector

assert ui_spaces.ZERO_GPU, "the fake spaces package was not picked up"
registry = ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=sys.argv[1])
ImageEngine(registry)
model = registry.get(None).model
image = np.zeros((60, 80, 3), np.uint8)
image[10:30, 10:40] = 200
detector = StandInDetector([Detection((10, 10, 40, 30), "car", 0.9), Detection((50, 35, 75, 55), "car", 0.7)])
finder = Finder.with_detector(detector)
with open(sys.argv[2], "w") as f:
    f.write("0 0.3125 0.3333 0.375 0.3333\\n")


def run_all():
    found = finder.find(image_predictor(model), image, "car", 0.5, image_is_set=False)
    from_file = boxes_from_file(image_predictor(model), image, sys.argv[2], image_is_set=False)
    boxes = finder.find_boxes(image, "car", 0.5)
    file_boxes = boxes_file_boxes(image, sys.argv[2])
    return found, from_file, boxes, file_boxes


zero = run_all()
calls = [c["name"] for c in spaces.CALLS]
sent = max(c["sent_bytes"] for c in spaces.CALLS)
ui_spaces.ZERO_GPU = False  # the same calls in place
here = run_all()
assert len(spaces.CALLS) == len(calls), "no GPU call without ZeroGPU"
same = all(
    [o.label for o in a.objects] == [o.label for o in b.objects]
    and all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))
    and a.boxes == b.boxes and a.message == b.message
    for a, b in zip(zero, here)
)
print(json.dumps({"calls": calls, "sent_max": sent, "same": same, "counts": [len(o.boxes) for o in zero],
                  "objects": [len(o.objects) for o in zero], "detector_calls": len(detector.calls),
                  "low_res": [o.low_res_logits is not None for o in zero[0].objects]}))
'''


@pytest.mark.slow  # over ~7 s on a 2-core CI machine; CI runs it with -m slow
def test_find_runs_inside_gpu_functions_on_zero_gpu(tiny_checkpoint, tmp_path):
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    env = dict(os.environ, SPACES_ZERO_GPU="1", PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO_ROOT)]))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCENARIO), tiny_checkpoint,
                           str(tmp_path / "boxes.txt")], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Find and the file upload segment in one GPU call each; the video tab's detector call is a
    # GPU call too; boxes read from a file for the video tab need no model at all.
    assert out["calls"] == ["_gpu_find_objects", "_gpu_find_objects", "_gpu_find_boxes"]
    assert out["sent_max"] < 60 * 80 * 3 + 4000  # the image and a few values: no model, no predictor
    assert out["counts"] == [2, 1, 2, 1] and out["objects"] == [2, 1, 0, 0]
    assert out["low_res"] == [True, True]  # found objects can be refined with clicks afterwards
    assert out["same"], "ZeroGPU and in-place Find disagree"
    assert out["detector_calls"] == 4  # twice per run: Find and the video tab's boxes
