"""The session budget (``ui.common.session_limits``) on real ``SessionStore``s with array states:
counts, per-address counts, memory, never-connected sessions first, busy sessions kept,
"the server is busy" when nothing can go."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ui.common.object_size import array_bytes
from ui.common.session_limits import (MB, Connections, SessionBudget, SessionLimits, ServerBusyError, client_address)
from ui.common.sessions import SessionKeys, SessionStore


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Slot:
    def __init__(self) -> None:
        self.data = None
        self.working = False
        self.released = False

    def release(self) -> None:
        self.released = True


def _setup(limits: SessionLimits, stores: int = 1):
    clock, conns = Clock(), Connections()
    made = []
    budget = SessionBudget(limits, connections=conns, clock=clock)
    out = []
    for _ in range(stores):
        store = SessionStore(Slot, clock=clock, on_drop=lambda s: (s.release(), made.append(s)),
                             busy_of=lambda s: s.working)
        budget.attach(store)
        out.append(store)
    return clock, conns, budget, out


def _use(store, clock, key, mb=0, conns=None, address=None, connected=False):
    if conns is not None:
        conns.note(key, address)
        if connected:
            conns.opened(key, address)
    clock.t += 10

    def act(slot):
        if mb:
            slot.data = np.ones(mb * MB, np.uint8)

    if mb:
        store.reserve(key, mb * MB)
    store.run(key, act)


def test_session_count_drops_never_connected_then_least_recent_then_refuses():
    clock, conns, budget, (store,) = _setup(SessionLimits(max_sessions=3, max_per_client=10, min_idle_s=0,
                                                                open_min_idle_s=0))
    _use(store, clock, "page-old", conns=conns, address="1.1.1.1", connected=True)
    _use(store, clock, "api-raw", conns=conns, address="2.2.2.2")  # no heartbeat
    _use(store, clock, "page-new", conns=conns, address="3.3.3.3", connected=True)
    _use(store, clock, "newcomer", conns=conns, address="4.4.4.4", connected=True)
    assert "api-raw" not in store and "page-old" in store  # the never-connected one went first
    _use(store, clock, "fifth", conns=conns, address="5.5.5.5", connected=True)
    assert "page-old" not in store and {"page-new", "newcomer", "fifth"} <= {k for k, _, _ in store.snapshot()}
    # every remaining session busy: nothing can go, the newcomer is told so and nothing changes
    entries = [store.get(k) for k in ("page-new", "newcomer", "fifth")]
    for e in entries:
        e.state.working = True
    with pytest.raises(ServerBusyError, match=r"^The server is busy: .*\(3\)"):
        _use(store, clock, "sixth", conns=conns, address="6.6.6.6", connected=True)
    assert "sixth" not in store and len(store) == 3 and budget.dropped == 2


def test_per_client_bound_drops_that_clients_oldest_idle_session():
    clock, conns, budget, (store,) = _setup(SessionLimits(max_sessions=50, max_per_client=2, min_idle_s=0))
    _use(store, clock, "other", conns=conns, address="9.9.9.9")
    for key in ("a1", "a2", "a3"):
        _use(store, clock, key, conns=conns, address="1.2.3.4")
    assert {k for k, _, _ in store.snapshot()} == {"other", "a2", "a3"}
    store.get("a2").state.working = True
    store.get("a3").state.working = True
    with pytest.raises(ServerBusyError, match="your address already has 2 sessions"):
        _use(store, clock, "a4", conns=conns, address="1.2.3.4")
    _use(store, clock, "b1", conns=conns, address="5.6.7.8")  # another address is not held up


def test_memory_budget_drops_idle_sessions_across_stores_and_keeps_busy_ones():
    clock, conns, budget, (images, videos) = _setup(
        SessionLimits(memory_bytes=100 * MB, max_sessions=50, max_per_client=50, min_idle_s=0, open_min_idle_s=0),
        stores=2)
    _use(images, clock, "s1", mb=30, conns=conns, connected=True)
    _use(videos, clock, "s1", mb=20, conns=conns, connected=True)  # one session, two stores
    _use(videos, clock, "s2", mb=30, conns=conns, connected=True)
    assert budget.usage() == 80 * MB and len(budget.sessions()) == 2
    _use(images, clock, "s3", mb=40, conns=conns, connected=True)  # s1 (least recent, 50 MB) goes from both
    assert "s1" not in images and "s1" not in videos and budget.usage() == 70 * MB
    videos.get("s2").state.working = True  # tracking: never dropped for room
    with pytest.raises(ServerBusyError, match="memory it keeps for sessions"):
        _use(images, clock, "s3", mb=90, conns=conns, connected=True)
    with pytest.raises(ServerBusyError, match="more than the 100 MB"):
        _use(images, clock, "s4", mb=101, conns=conns, connected=True)
    assert budget.usage() <= 100 * MB


def test_recently_used_sessions_are_not_dropped_and_open_ones_least_of_all():
    clock, conns, budget, (store,) = _setup(SessionLimits(max_sessions=2, max_per_client=9, min_idle_s=30,
                                                          open_min_idle_s=120))
    _use(store, clock, "open", conns=conns, connected=True)  # its client is still connected
    _use(store, clock, "closed", conns=conns, connected=True)
    conns.closed("closed")  # its page went away (kept for a reload)
    with pytest.raises(ServerBusyError):
        _use(store, clock, "b", conns=conns, connected=True)  # "closed" was used 10 s ago
    clock.t += 30
    _use(store, clock, "c", conns=conns, connected=True)
    assert "closed" not in store and "open" in store  # the closed page's session went first
    clock.t += 30  # "open" idle 80 s: still protected (its next request may be in the queue)
    with pytest.raises(ServerBusyError):
        _use(store, clock, "d", conns=conns, connected=True)
    clock.t += 60
    _use(store, clock, "d", conns=conns, connected=True)
    assert "open" not in store


def test_unconnected_sessions_and_gradio_state_age_out_quickly():
    import datetime

    clock, conns, budget, (store,) = _setup(SessionLimits(unconnected_idle_s=60, min_idle_s=0))
    _use(store, clock, "raw", mb=1, conns=conns)
    _use(store, clock, "page", mb=1, conns=conns, connected=True)
    conns.closed("page")  # a closed page keeps its session for the usual idle time
    holder = type("Holder", (), {})()
    holder.lock = threading.Lock()
    old = datetime.datetime.now() - datetime.timedelta(seconds=120)
    holder.session_data = {"raw": object(), "page": object(), "fresh": object()}
    holder.time_last_used = {"raw": old, "page": old, "fresh": datetime.datetime.now()}
    forgotten = []
    budget.on_forget(forgotten.append)
    clock.t += 30
    assert budget.sweep_unconnected(holder) == 0 and "raw" in store
    clock.t += 40
    assert budget.sweep_unconnected(holder) == 1
    assert "raw" not in store and "page" in store
    assert set(holder.session_data) == {"page", "fresh"} and forgotten == ["raw"]


def test_tab_keys_count_once_and_take_their_pages_address():
    keys = SessionKeys()
    clock, conns = Clock(), Connections()
    budget = SessionBudget(SessionLimits(max_per_client=1, min_idle_s=0), connections=conns,
                           connections_of=keys.connections_of, clock=clock)
    store = SessionStore(Slot, clock=clock)
    store.use_keys(keys)
    budget.attach(store)
    key = keys.attach("page-hash", "")
    conns.note("page-hash", "7.7.7.7")
    conns.opened("page-hash")
    store.run("page-hash", lambda s: None)
    info = budget.sessions()["tab:" + key]
    assert info.connected and info.address == "7.7.7.7"


def test_array_bytes_counts_each_buffer_once():
    import torch

    a = np.zeros((100, 100), np.float32)
    t = torch.zeros(1000)
    state = {"a": a, "view": a[:10], "t": t, "t2": t[5:], "nested": [{"b": np.zeros(10, np.uint8)}],
             "lock": threading.Lock(), "model": torch.nn.Linear(1000, 1000)}
    assert array_bytes(state) == a.nbytes + t.nbytes + 10


def test_array_bytes_counts_packed_masks_and_frames_once():
    """Packed masks (a tracked clip's, and the undo history's copies of the same objects) and
    JPEG frames are ``bytes``: they count, each object once; short byte strings do not."""
    from ui.common.packed_mask import PackedMask

    rs = np.random.RandomState(0)
    packed = PackedMask.pack(rs.rand(480, 640) > 0.5)  # noise: does not compress
    jpeg = bytes(rs.randint(0, 256, 5000, dtype=np.uint8))
    history = [{"masks": {0: packed}}, {"masks": {0: packed, 1: packed}}]
    assert len(packed.data) > 30_000
    assert array_bytes({"frames": [jpeg], "history": history, "name": b"car"}) == len(packed.data) + len(jpeg)


def test_limits_from_env_and_forwarded_addresses():
    limits = SessionLimits.from_env({"SAM2_SESSION_MEMORY_MB": "2048", "SAM2_MAX_SESSIONS": "7"}, total_ram=64 << 30)
    assert limits.memory_bytes == 2048 * MB and limits.max_sessions == 7
    assert SessionLimits.from_env({}, total_ram=24 << 30).memory_bytes == 8 << 30
    assert SessionLimits.from_env({}, total_ram=2 << 30).memory_bytes == 1 << 30
    with pytest.raises(ValueError, match="SAM2_MAX_SESSIONS"):
        SessionLimits.from_env({"SAM2_MAX_SESSIONS": "many"})
    assert client_address("10.0.0.1", "1.2.3.4, 10.0.0.2", trust=True) == "1.2.3.4"
    assert client_address("10.0.0.1", "1.2.3.4", trust=False) == "10.0.0.1"
