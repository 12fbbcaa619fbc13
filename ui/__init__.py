"""The Gradio user interface for SAM 2: tabs, per-session state, overlays and exports.

Nothing in this package does model math. It turns clicks into prompts, hands them to the
predictors of the ``sam2`` package and turns their outputs into pictures and files.
"""
