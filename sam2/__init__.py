"""Our own pure-PyTorch SAM 2 / SAM 2.1: image predictor, automatic masks and video tracking.

Import paths and call signatures follow the official ``sam2`` package, e.g.::

    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor
"""

__version__ = "0.1.0"
