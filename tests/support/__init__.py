"""Helpers shared by the tests, imported as a package (``from tests.support.parity import rel_l2``):
parity comparisons, test media, the app in a child process, headless Chromium, fakes."""
