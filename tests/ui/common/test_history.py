"""``ui.common.history.History``: the undo / redo lists both tabs keep."""

from __future__ import annotations

import pytest

from ui.common.errors import UserError
from ui.common.history import History


def test_undo_redo_and_a_new_change_dropping_redo():
    h: History[str] = History(steps=3)
    with pytest.raises(UserError, match="Nothing to undo"):
        h.step(-1, "now")
    with pytest.raises(UserError, match="Nothing to redo"):
        h.peek(+1)
    for before in ("a", "b", "c", "d"):  # the oldest falls off past 3
        h.record(before)
    assert h.past == ["b", "c", "d"]
    assert h.peek(-1) == "d" and h.step(-1, "e") == "d"
    assert h.future == ["e"] and h.step(+1, "d") == "e" and h.past == ["b", "c", "d"]
    h.step(-1, "e")
    h.record("x")  # a new change: what was undone cannot be redone
    assert h.future == [] and h.past[-1] == "x"
    h.forget()
    assert len(h) == 0 and h.future == []
