"""Shared helpers for the tests that talk to the app over HTTP (gradio_client, Chromium)."""

from __future__ import annotations

import contextlib
import json
from typing import Iterator, List, Tuple

import numpy as np

from tests.support.hub_cache import free_port


def launch_demo(demo) -> str:
    """Serve a built Gradio ``demo`` in this process on a free local port; its URL."""
    port = free_port()
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return f"http://127.0.0.1:{port}/"


def decode_coco(path: str) -> Tuple[dict, List[np.ndarray]]:
    """A COCO masks file: ``(doc, masks)``, one boolean mask per annotation, in order."""
    from pycocotools import mask as mask_utils

    with open(path) as f:
        doc = json.load(f)
    masks = []
    for ann in doc["annotations"]:
        rle = dict(ann["segmentation"])
        rle["counts"] = rle["counts"].encode()
        masks.append(mask_utils.decode(rle).astype(bool))
    return doc, masks



def random_detector_dir(tmp_path_factory, words: List[str]) -> str:
    """A folder holding a seeded random Grounding DINO that knows ``words`` (no network)."""
    from sam2.find.testing import save_random_grounding_dino

    return save_random_grounding_dino(str(tmp_path_factory.mktemp("gdino")), words)


@contextlib.contextmanager
def find_app(tmp_path_factory, detector_dir: str, args: List[str]) -> Iterator[object]:
    """The real app in a subprocess, "Find" using the detector in ``detector_dir``, with an
    empty Hugging Face cache."""
    from tests.support.hub_cache import AppProcess, hf_cache_env

    env = hf_cache_env(str(tmp_path_factory.mktemp("hf_home")))
    env["SAM2_FIND_DETECTOR"] = detector_dir
    with AppProcess(args, env) as proc:
        yield proc


def api_summary(info: dict) -> dict:
    """What ``gradio_client`` sees of the app's API, in a form worth pinning: for each named
    endpoint its parameters (name, label, component, type, default) and returns (label,
    component, type), and how many unnamed endpoints there are. ``info`` is
    ``Client.view_api(return_format="dict")``; examples and descriptions are left out (they
    carry no contract)."""
    def parameter(p: dict) -> dict:
        return {"name": p["parameter_name"], "label": p["label"], "component": p["component"],
                "type": p["python_type"]["type"], "has_default": p["parameter_has_default"],
                "default": p.get("parameter_default")}

    def returned(r: dict) -> dict:
        return {"label": r["label"], "component": r["component"], "type": r["python_type"]["type"]}

    return {
        "named_endpoints": {name: {"parameters": [parameter(p) for p in ep["parameters"]],
                                   "returns": [returned(r) for r in ep["returns"]]}
                            for name, ep in sorted(info["named_endpoints"].items())},
        "unnamed_endpoints": len(info["unnamed_endpoints"]),
    }
