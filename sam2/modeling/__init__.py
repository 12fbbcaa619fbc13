"""The model math of SAM 2 / SAM 2.1 / EdgeTAM: pure ``nn.Module``s, one file per part, no I/O.

A regular package (not a namespace one), as in the official ``sam2``, so that import tools
(and the architecture contracts in ``pyproject.toml``) see its modules.
"""
