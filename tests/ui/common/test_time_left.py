"""The time-left estimate shown by tracking and segment everything."""

from __future__ import annotations

from ui.common.progress import TimeLeft, format_duration


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_pace_is_measured_after_the_first_step():
    clock = _Clock()
    left = TimeLeft(clock)
    assert left.text(0, 10) == ""          # nothing done: no guess
    clock.t += 30.0                        # the first frame carried a 30 s warm-up
    assert left.text(1, 10) == ""          # one step seen: still no pace
    clock.t += 4.0
    assert left.seconds(3, 10) == 14.0     # 2 steps in 4 s -> 2 s a step, 7 to go
    assert left.text(3, 10) == " · about 15 s left"
    clock.t += 100
    assert left.text(10, 10) == ""         # finished


def test_durations_read_short():
    assert [format_duration(s) for s in (0.2, 7, 42, 61, 3599, 4200)] == ["1 s", "7 s", "40 s", "1 min", "1 h",
                                                                            "1 h 10 min"]
