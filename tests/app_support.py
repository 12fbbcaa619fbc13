"""Shared helpers for the tests that talk to the app over HTTP (gradio_client, Chromium)."""

from __future__ import annotations

import json
from typing import List, Tuple

import numpy as np

from ui.testing import free_port


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
