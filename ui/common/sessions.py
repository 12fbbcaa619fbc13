"""Per-browser-session state that lives outside ``gr.State``, and the key that finds it again.

Why not ``gr.State``: image embeddings, candidate masks and video frames are large, and
Gradio keeps a closed tab's ``gr.State`` for about an hour. Here every session's objects
sit in a dict, freed by an idle sweep (and at once when a ``gradio_client`` closes).

Which entry an event works on: Gradio gives every page load a new ``request.session_hash``,
so a reload (F5) would start from zero. The page therefore keeps a ``SessionKeys`` key in
the tab's ``sessionStorage`` (it survives a reload, and a second tab gets its own) and
hands it over once, on load; from then on that connection's ``session_hash`` is an alias
of the key. A duplicated tab (Chrome's "Duplicate" copies ``sessionStorage``) presents a key
that another open page still uses: it gets a fresh key and starts empty rather than share
(two pages driving one session would overwrite each other's work). A reload also presents
a key in use for a moment, until the old page's close is reported; ``SessionKeys.attach``
waits up to ``RELOAD_GRACE_S`` for that close before deciding it is a second tab. Keys are issued by the server and signed, so a client cannot make one up, and
they are long random strings, so nobody can guess another tab's. API clients never send a
key: each ``gradio_client.Client`` is one session keyed by its ``session_hash``, as before.

Each session also owns a lock: a user can fire events faster than they are processed
(two clicks, a click during "segment everything"), and those must not interleave on one
session's state.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

from sam2.utils.memory import trim_process_memory
from ui.common import run_folder
from ui.common.object_size import array_bytes
from ui.common.session_limits import CONNECTIONS, client_address

T = TypeVar("T")
R = TypeVar("R")

#: First line of a tab's status after a reload brought its session back.
RESTORED_NOTE = "Restored after the page reload."


def connection_of(request: Any) -> Optional[str]:
    """The page connection an event came from (``request.session_hash``; None without one).

    Stores resolve it to the session key through ``SessionKeys``. The client's address is
    noted for the per-client session bound (``ui.common.session_limits``)."""
    if request is None:
        return None
    session_hash = request.session_hash
    if session_hash:
        try:
            client = getattr(request, "client", None)
            headers = getattr(request, "headers", None) or {}
            CONNECTIONS.note(session_hash, client_address(getattr(client, "host", None),
                                                          headers.get("x-forwarded-for")))
        except Exception:  # noqa: BLE001 - a request without a client (tests) has no address
            pass
    return session_hash


def restore_tab(sessions: "SessionStore", sid: Optional[str], view_of: Callable[[Optional[str]], Any],
                render: Callable[[Any], Dict[Any, Any]]) -> Dict[Any, Any]:
    """A tab's outputs as they were before the page reload: its session's view, with the
    status saying it was restored; nothing when the session is gone (the tab stays empty).
    Both tabs restore this way; ``view_of`` and ``render`` are the tab's own."""
    if sid not in sessions:
        return {}
    view = view_of(sid)
    if view.canvas is not None:
        view.status = RESTORED_NOTE + "  \n" + view.status
    return render(view)

#: Sessions idle for longer than this are freed by the sweep (seconds).
DEFAULT_MAX_IDLE_S = 30 * 60.0


class SessionKeys:
    """Server-issued session keys, and which page connection (``session_hash``) uses which.

    A key is ``<random>.<signature>``: 144 random bits plus an HMAC of them under a secret
    made when the server starts. ``attach`` accepts only keys this server issued (anything
    else, or a key of a previous server run, gets a fresh one), so a client can neither
    forge a key nor pick one that collides with another session's. Store keys of tab
    sessions carry the ``tab:`` prefix, unlike the hashes Gradio makes for connections.
    """

    PREFIX = "tab:"
    #: How long a closed connection's alias is kept (seconds). Gradio reports a page as
    #: closed when its heartbeat stream drops, which also happens to a page that stays open
    #: (a network blip, a laptop asleep) and reconnects with the same ``session_hash``.
    CLOSED_ALIAS_TTL_S = 4 * 3600.0
    #: A key still used by another open page: how long ``attach`` waits for that page to be
    #: reported closed (a reload: Gradio reports the old page's close when its heartbeat
    #: stream drops, usually before the new page's load event, but not always) before it
    #: takes the newcomer for a duplicated tab and gives it a fresh key (seconds).
    RELOAD_GRACE_S = 3.0

    def __init__(self, secret: Optional[bytes] = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._alias: Dict[str, str] = {}
        self._closed: Dict[str, float] = {}  # session_hash -> when its page was reported closed
        self._clock = clock
        self._guard = threading.Condition(threading.Lock())  # notified when a page is reported closed

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce)}"

    def is_valid(self, key: Any) -> bool:
        if not isinstance(key, str) or key.count(".") != 1 or len(key) > 100:
            return False
        nonce, sig = key.split(".")
        return bool(nonce) and hmac.compare_digest(sig, self._sign(nonce))

    def attach(self, session_hash: str, key: Any, reload: bool = False) -> str:
        """Bind a page connection to ``key``; a fresh key when it is not one of ours, or when
        another open page still uses it after ``RELOAD_GRACE_S`` (a duplicated tab).

        ``reload``: the browser says this page is a reload of the one that held the key
        (``PerformanceNavigationTiming.type``); it keeps the key at once, however late the
        old page's close is reported (a dead connection may take minutes to be noticed)."""
        if not session_hash:
            raise ValueError("a page connection needs a session_hash")
        if not self.is_valid(key):
            key = self.issue()
        with self._guard:
            self._prune(self._clock())
            deadline = time.monotonic() + self.RELOAD_GRACE_S
            while not reload and self._open_pages_using(key, session_hash):
                left = deadline - time.monotonic()
                if left <= 0:  # still open: a second tab with a copy of the first one's storage
                    key = self.issue()
                    break
                self._guard.wait(left)
            self._alias[session_hash] = self.PREFIX + key
            self._closed.pop(session_hash, None)
        return key

    def _open_pages_using(self, key: str, session_hash: str) -> bool:
        target = self.PREFIX + key
        return any(v == target and h != session_hash and h not in self._closed for h, v in self._alias.items())

    def _prune(self, now: float) -> None:
        for old in [h for h, t in self._closed.items() if now - t > self.CLOSED_ALIAS_TTL_S]:
            self._closed.pop(old, None)
            self._alias.pop(old, None)

    def detach(self, session_hash: Optional[str]) -> Optional[str]:
        """A page was reported closed; returns the store key it used (None: it had none).

        The alias stays for ``CLOSED_ALIAS_TTL_S``: should the page still be open, its
        events keep reaching its session."""
        if not session_hash:
            return None
        with self._guard:
            key = self._alias.get(session_hash)
            if key is not None:
                self._closed[session_hash] = self._clock()
                self._guard.notify_all()  # a reload may be waiting for this page to go
            return key

    def connections_of(self, store_key: str) -> List[str]:
        """The page connections that use ``store_key`` (a tab key); a key that is a
        connection's own hash (an API client) stands for itself."""
        if not store_key.startswith(self.PREFIX):
            return [store_key]
        with self._guard:
            return [h for h, k in self._alias.items() if k == store_key]

    def forget(self, session_hash: str) -> None:
        """Drop a connection's alias now (it never connected: ``ui.common.session_limits``)."""
        with self._guard:
            self._alias.pop(session_hash, None)
            self._closed.pop(session_hash, None)

    def resolve(self, session_hash: Optional[str]) -> Optional[str]:
        """The store key of a connection: its tab key once attached, else its own hash."""
        if not session_hash:
            return session_hash
        with self._guard:
            return self._alias.get(session_hash, session_hash)


class SessionFiles:
    """A temporary folder per session for downloads, removed with the session; it lives in
    the server run's folder (``ui.common.run_folder``), which also ages old files out.

    Files are grouped by ``kind`` (one subfolder each): ``clear(kind)`` deletes what an
    earlier export of that kind wrote, so replaced downloads do not pile up on disk.
    """

    def __init__(self) -> None:
        self._dir: Optional[str] = None

    @property
    def folder(self) -> Optional[str]:
        return self._dir

    def path(self, name: str, kind: str = "files") -> str:
        if self._dir is None or not os.path.isdir(self._dir):
            self._dir = tempfile.mkdtemp(prefix="session-", dir=run_folder.current().sub("sessions"))
        sub = os.path.join(self._dir, kind)
        os.makedirs(sub, exist_ok=True)
        return os.path.join(sub, name)

    def clear(self, kind: str) -> None:
        if self._dir is not None:
            shutil.rmtree(os.path.join(self._dir, kind), ignore_errors=True)

    def cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@dataclass
class SessionEntry(Generic[T]):
    """One session's state plus the lock that serialises that session's events."""

    state: T
    lock: threading.RLock = field(default_factory=threading.RLock)
    last_used: float = field(default_factory=time.monotonic)
    held_bytes: int = 0  # array data it held when last measured (``SessionStore.bytes_held``)
    actions: int = 0  # actions run on it so far
    measured_after: int = -1  # ``actions`` at that measurement

    def touch(self) -> None:
        self.last_used = time.monotonic()


class SessionStore(Generic[T]):
    """A thread-safe ``session key -> SessionEntry`` map with idle expiry.

    ``factory`` builds the state of a new session. ``on_drop`` (optional) is called with
    a state when it is removed, to release resources it holds (temporary files, ...).
    With ``use_keys(keys)`` the ids given to ``get``/``run``/``drop``/``in`` are page
    connections (``session_hash``) resolved through ``SessionKeys``.

    With ``use_budget(budget)`` (``ui.common.session_limits.SessionBudget``) a new session is
    admitted only within the budget's bounds, and ``reserve`` makes room for a load.
    ``size_of(state)`` weighs a session (default: its arrays, tensors and large byte strings), ``busy_of(state)``
    says it has background work going (such a session is never dropped to make room).
    """

    def __init__(
        self,
        factory: Callable[[], T],
        max_idle_s: float = DEFAULT_MAX_IDLE_S,
        on_drop: Optional[Callable[[T], None]] = None,
        clock: Callable[[], float] = time.monotonic,
        size_of: Optional[Callable[[T], int]] = None,
        busy_of: Optional[Callable[[T], bool]] = None,
    ) -> None:
        if max_idle_s <= 0:
            raise ValueError(f"max_idle_s must be positive, got {max_idle_s}")
        self._factory = factory
        self._max_idle_s = float(max_idle_s)
        self._on_drop = on_drop
        self._clock = clock
        self._entries: Dict[str, SessionEntry[T]] = {}
        self._guard = threading.Lock()
        self._sweeper: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._keys: Optional[SessionKeys] = None
        self._budget: Any = None
        if size_of is None:
            size_of = array_bytes
        self._size_of = size_of
        self._busy_of = busy_of or (lambda state: False)

    def use_keys(self, keys: SessionKeys) -> None:
        self._keys = keys

    def use_budget(self, budget: Any) -> None:
        """Admit new sessions through ``budget`` (``SessionBudget.attach`` calls this)."""
        self._budget = budget

    # ------------------------------------------------------------ for the budget
    def _busy(self, entry: SessionEntry[T]) -> bool:
        if not entry.lock.acquire(blocking=False):
            return True
        try:
            return bool(self._busy_of(entry.state))
        except Exception:  # noqa: BLE001 - a state that cannot say is taken as busy
            return True
        finally:
            entry.lock.release()

    def snapshot(self) -> List[Tuple[str, float, bool]]:
        """(key, last used, busy) of every session."""
        with self._guard:
            entries = list(self._entries.items())
        return [(key, entry.last_used, self._busy(entry)) for key, entry in entries]

    def bytes_held(self, exclude: Optional[str] = None, remeasure: bool = False) -> int:
        """Array data held by all sessions (but ``exclude``); sessions used since their last
        measurement (or all, with ``remeasure``) are measured again."""
        with self._guard:
            entries = [(k, e) for k, e in self._entries.items() if k != exclude]
        total = 0
        for _, entry in entries:
            if remeasure or entry.measured_after != entry.actions:
                done = entry.actions
                try:
                    entry.held_bytes = int(self._size_of(entry.state))
                except Exception:  # noqa: BLE001 - a state changing under the walk: keep the last value
                    pass
                entry.measured_after = done
            total += entry.held_bytes
        return total

    def drop_idle(self, key: str) -> bool:
        """Drop session ``key`` (a store key) unless it is busy; returns whether it went."""
        with self._guard:
            entry = self._entries.get(key)
            if entry is None or self._busy(entry):
                return False
            del self._entries[key]
        self._release(entry)
        del entry
        trim_process_memory()  # glibc keeps freed heap otherwise: hand it back to the OS
        return True

    def reserve(self, key: Optional[str], extra_bytes: int) -> None:
        """Before session ``key`` loads ``extra_bytes`` of new data (replacing what it has):
        admit it and make room within the budget, else ``ServerBusyError``."""
        self.get(key)
        if self._budget is not None:
            self._budget.make_room(self._key(key), int(extra_bytes))

    def _key(self, key: Optional[str]) -> Optional[str]:
        return self._keys.resolve(key) if self._keys is not None else key

    def adopt(self, session_hash: str) -> None:
        """After ``SessionKeys.attach``: give the tab key what this connection did before
        it was attached (events can arrive before the page's load event); restored work wins."""
        target = self._key(session_hash)
        if not session_hash or target == session_hash:
            return
        with self._guard:
            early = self._entries.pop(session_hash, None)
            if early is not None and target not in self._entries:
                self._entries[target] = early  # type: ignore[index]
                early = None
        if early is not None:
            self._release(early)

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    def __contains__(self, key: Optional[str]) -> bool:
        key = self._key(key)
        with self._guard:
            return key in self._entries

    def get(self, key: Optional[str]) -> SessionEntry[T]:
        """The entry for ``key``, created on first use. Also sweeps idle sessions."""
        if not key:
            raise RuntimeError(
                "this event carries no session id; open the app in a browser or a gradio_client"
            )
        key = self._key(key)
        self.sweep()
        with self._guard:
            entry = self._entries.get(key)
            if entry is not None:
                entry.last_used = self._clock()
                return entry
        if self._budget is not None:
            self._budget.admit(key)  # may drop other sessions, or refuse: outside this store's guard
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = SessionEntry(self._factory(), last_used=self._clock())
                self._entries[key] = entry
            entry.last_used = self._clock()
            return entry

    def run(self, key: Optional[str], fn: Callable[[T], R]) -> R:
        """``fn(state)`` of session ``key`` under its lock (one action at a time per session)."""
        entry = self.get(key)
        with entry.lock:
            try:
                return fn(entry.state)
            finally:
                entry.actions += 1
                entry.last_used = self._clock()

    def drop(self, key: Optional[str]) -> bool:
        """Forget a session now (its API client closed). Returns whether it existed."""
        if not key:
            return False
        key = self._key(key)
        with self._guard:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._release(entry)
        del entry
        trim_process_memory()  # glibc keeps freed heap otherwise: hand it back to the OS
        return True

    def sweep(self) -> List[str]:
        """Drop sessions idle longer than ``max_idle_s`` and not busy; returns their keys."""
        now = self._clock()
        dropped: List[SessionEntry[T]] = []
        keys: List[str] = []
        with self._guard:
            for key, entry in list(self._entries.items()):
                if now - entry.last_used <= self._max_idle_s:
                    continue
                # A session in the middle of an event, or with background work going
                # (tracking, an export), is not idle, whatever its timestamp.
                if self._busy(entry):
                    continue
                del self._entries[key]
                dropped.append(entry)
                keys.append(key)
        for entry in dropped:
            self._release(entry)
        if dropped:
            dropped.clear()
            del entry
            trim_process_memory()
        return keys

    def start_sweeper(self, interval_s: float = 60.0) -> None:
        """Sweep in a daemon thread every ``interval_s`` seconds (idempotent)."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.sweep()

        self._sweeper = threading.Thread(target=loop, name="session-sweeper", daemon=True)
        self._sweeper.start()

    def _release(self, entry: SessionEntry[T]) -> None:
        if self._on_drop is not None:
            try:
                self._on_drop(entry.state)
            except Exception:  # noqa: BLE001 - cleanup must never break the caller
                pass

