"""Every test in this folder drives Debian's headless Chromium: one marker and one skip for all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    missing = not os.path.exists(CHROMIUM)
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason="needs Debian's chromium (apt-get install chromium)"))
