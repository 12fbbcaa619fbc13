"""The folder-counting example of the API guide (docs/api.md, linked from the README) runs as printed, offline, from a Hub cache holding
a random SAM 2.1 tiny checkpoint and a miniature random Grounding DINO."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tests.support import paths

pytest.importorskip("transformers")

REPO = paths.REPO


def readme_example() -> str:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    section = text[text.index("## Find and count"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow  # a fresh interpreter: transformers, SAM 2 and the detector built from scratch
def test_readme_folder_counting_example_runs_offline(tmp_path, tiny_checkpoint):
    from sam2.find import DEFAULT_DETECTOR
    from sam2.find.testing import save_random_grounding_dino
    from sam2.testing import populate_hf_cache

    cache = tmp_path / "hf" / "hub"
    populate_hf_cache(str(cache), "facebook/sam2.1-hiera-tiny", checkpoint=tiny_checkpoint)
    folder = save_random_grounding_dino(str(tmp_path / "gd"), ["car", "person"])
    repo = cache / ("models--" + DEFAULT_DETECTOR.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("2" * 40)
    shutil.copytree(folder, repo / "snapshots" / ("2" * 40))
    photos = tmp_path / "work" / "photos"
    photos.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in ("a.jpg", "b.jpg"):
        Image.fromarray((rng.rand(60, 90, 3) * 255).astype(np.uint8)).save(photos / name)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_HOME=str(cache.parent),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", readme_example()], cwd=photos.parent, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if not line.startswith("  ")]
    assert [line.split(" ", 1)[0] for line in lines] == ["a.jpg", "b.jpg"]
    assert all(re.fullmatch(r"\S+ \{'car': \d+, 'person': \d+\}", line) for line in lines), res.stdout
