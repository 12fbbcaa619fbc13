"""ui.common.sessions.SessionStore: create, drop, sweep idle sessions, never a busy one."""

import threading

import pytest

from ui.common.sessions import SessionStore


def test_session_store_creates_drops_and_sweeps_idle_sessions():
    now = [0.0]
    dropped = []
    store = SessionStore(list, max_idle_s=10, on_drop=dropped.append, clock=lambda: now[0])
    a = store.get("a")
    a.state.append(1)
    assert store.get("a").state == [1]
    store.get("b")
    assert len(store) == 2
    now[0] = 5.0
    store.get("b")  # b used recently
    now[0] = 12.0
    assert store.sweep() == ["a"]
    assert "a" not in store and "b" in store and dropped == [[1]]
    assert store.drop("b") and not store.drop("b") and not store.drop(None)
    with pytest.raises(RuntimeError, match="session id"):
        store.get(None)


def test_session_store_does_not_sweep_a_busy_session():
    now = [0.0]
    store = SessionStore(dict, max_idle_s=1, clock=lambda: now[0])
    entry = store.get("busy")
    now[0] = 100.0
    started, release = threading.Event(), threading.Event()

    def hold():
        with entry.lock:
            started.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(5)
    assert store.sweep() == []
    release.set()
    t.join()
    assert store.sweep() == ["busy"]


def test_session_store_validates_idle_time():
    with pytest.raises(ValueError):
        SessionStore(dict, max_idle_s=0)
