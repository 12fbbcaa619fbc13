"""ui.common.inputs: the one check that both tabs' handlers give numbers from the page or the API."""

from __future__ import annotations

import math

import pytest

from ui.common.errors import UserError
from ui.common.inputs import number, whole_number


@pytest.mark.parametrize("value", [None, "", "  ", float("nan"), math.inf, -math.inf, "abc", True, [1], object()])
def test_non_numbers_are_refused_by_name(value):
    with pytest.raises(UserError, match=r"^x must be a number"):
        number(value, "x")
    with pytest.raises(UserError, match=r"^frame must be a number"):
        whole_number(value, "frame")


def test_numbers_and_whole_numbers():
    assert number(3, "x") == 3.0 and number("2.5", "x") == 2.5 and number(-0.5, "x") == -0.5
    assert whole_number(4.0, "frame") == 4 and whole_number("7", "frame") == 7
    assert isinstance(whole_number(4.0, "frame"), int)
    with pytest.raises(UserError, match=r"^frame must be a whole number, got 2.5\.$"):
        whole_number(2.5, "frame")
    with pytest.raises(UserError, match=r"^object id must be a whole number from 1 to 255, got 0\."):
        whole_number(0, "object id", 1, 255)
    with pytest.raises(UserError, match=r"^threshold must be at most 1, got 2\."):
        number(2, "threshold", high=1)
    with pytest.raises(UserError, match=r"^area must be at least 0, got -3\."):
        whole_number(-3, "area", low=0)


def test_both_tabs_use_it():
    """The video session's checks and the image controller's API handlers answer with its messages."""
    from ui.image.controller import ImageController
    from ui.video.state import VideoSession

    video = VideoSession()
    video.load(12, 120, 160)
    with pytest.raises(UserError, match=r"^frame must be a number \(it was empty\)"):
        video.check_frame(None)
    with pytest.raises(UserError, match=r"^frame must be a whole number, got 2.5"):
        video.check_frame(2.5)
    with pytest.raises(UserError, match=r"^x must be a number, got nan"):
        video.check_inside(float("nan"), 3)
    with pytest.raises(UserError, match=r"^object id must be a whole number, got 1.5"):
        video.check_id(1.5)

    image = ImageController(engine=None)  # type: ignore[arg-type] - the checks come before any model use
    with pytest.raises(UserError, match=r"^y must be a number"):
        image.add_point("s", 3, None)
    with pytest.raises(UserError, match=r"^x1 must be a number, got inf"):
        image.add_box("s", 1, 2, math.inf, 4)
    with pytest.raises(UserError, match=r"^candidate index must be a whole number, got 0.5"):
        image.choose("s", 0.5)
