"""The app's ``--precision int8``: accepted on the command line and by the model registry,
and the model the registry builds holds int8 weights."""

from __future__ import annotations

import pytest


def test_command_line_accepts_int8_and_refuses_unknown(capsys):
    import app

    assert app.parse_args(["--precision", "int8"]).precision == "int8"
    with pytest.raises(SystemExit):
        app.parse_args(["--precision", "int4"])
    assert "int8" in capsys.readouterr().err  # the refusal lists the choices


def test_registry_builds_int8_models(tiny_checkpoint):
    from sam2.modeling.int8 import is_quantized
    from ui.models.registry import ModelRegistry

    registry = ModelRegistry(device="cpu", default_model="sam2.1-hiera-tiny", checkpoint=tiny_checkpoint,
                             precision="int8")
    assert is_quantized(registry.get(None).model)
    with pytest.raises(ValueError, match="int8"):
        ModelRegistry(device="cpu", precision="int4")  # the message lists int8 among the choices
