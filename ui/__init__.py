"""The Gradio user interface for SAM 2. Nothing in this package does model math: it turns
clicks into prompts, hands them to the predictors of ``sam2`` and turns their outputs into
pictures and files.

Imports only go down::

    page                      assembles the page (header, model selector, both tabs)
    image/   video/           the two sides, same file roles, never importing each other
    tabkit/ find/ canvas/ models/
    common/                   sessions, jobs, errors, prompts, masks, drawing, export writers
    sam2                      the model library

Only ``page``, the sides' ``tab``/``api`` modules, ``tabkit`` and ``canvas`` import Gradio;
``canvas`` is a self-contained component. ``tests/test_architecture.py`` checks these rules.
"""
