"""Where things are, for tests that read the repository's own files."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
ARTIFACTS = REPO / "test-artifacts"
