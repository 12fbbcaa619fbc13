"""Bounds on what sessions may hold: a memory budget, a session count, a count per client.

Why: an API client can start a new session with every request (a fresh ``session_hash``, no
page, no heartbeat), and each one that loads a picture or a clip keeps ~100-200 MB until the
idle sweep 30 minutes later; ~120 such calls fill a 24 GB machine. ``SessionBudget`` is shared
by the image and video ``SessionStore``s (one session key = one session, whichever tabs it
uses) and enforces ``SessionLimits``:

* ``max_sessions`` live sessions, ``max_per_client`` of them per client address: a new
  session beyond either bound first makes room by dropping the least recently used idle
  session (of that address, for the per-client bound);
* ``memory_bytes`` of session data (arrays and tensors a session holds, measured by
  ``ui.common.object_size.array_bytes``; the models are not counted): a load that would pass it
  drops least recently used idle sessions first, and the sweeper drops them while tracking
  results push the total over;
* sessions that never connected a page or a heartbeat (``Connections``) are dropped first,
  and whatever they hold goes after ``unconnected_idle_s`` of idleness (also the state Gradio
  keeps for such a connection), instead of after the 30-minute idle time;
* "idle" means no event of the session is running and no background work (tracking, an
  export, segment everything) is going on, and its last event ended ``min_idle_s`` ago
  (``open_min_idle_s``, 10 minutes, for a session whose page or client is still connected:
  its next request may be waiting in a long queue, and a user who is there must not lose
  their work to newcomers, who are told the server is busy instead); the order is: never connected, then closed pages,
  then open ones, least recently used first;
* when nothing can be dropped, the request is answered ``ServerBusyError`` ("The server is
  busy: ..."), a ``UserError``, so the page and API clients get it as a status message.

Which connections are alive: ``ConnectionWatch`` (ASGI middleware) sees each page's and each
``gradio_client``'s heartbeat stream (``GET /gradio_api/heartbeat/<session_hash>``) open and
close; ``connection_of`` (``ui.common.sessions``) notes the client address of every event.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from ui.common.errors import UserError

log = logging.getLogger("sam2.app")

MB = 1024 * 1024


class ServerBusyError(UserError):
    """The server cannot take this session's work now; the message says why and what to do."""


def _total_ram_bytes() -> Optional[int]:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None


@dataclass(frozen=True)
class SessionLimits:
    """The bounds; ``from_env`` gives the defaults for this machine."""

    memory_bytes: int = 4096 * MB  # array data of all sessions together
    max_sessions: int = 40
    max_per_client: int = 8
    unconnected_idle_s: float = 120.0
    min_idle_s: float = 5.0
    open_min_idle_s: float = 600.0

    def __post_init__(self) -> None:
        if self.memory_bytes < 64 * MB or self.max_sessions < 1 or self.max_per_client < 1 \
                or self.unconnected_idle_s <= 0 or self.min_idle_s < 0:
            raise ValueError(f"invalid session limits: {self}")

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None, total_ram: Optional[int] = None) -> "SessionLimits":
        """Defaults: a third of the machine's memory for session data (1 to 16 GB), 40 sessions,
        8 per client address; ``SAM2_SESSION_MEMORY_MB``, ``SAM2_MAX_SESSIONS``,
        ``SAM2_MAX_SESSIONS_PER_CLIENT`` and ``SAM2_UNCONNECTED_IDLE_S`` override them."""
        env = os.environ if env is None else env
        ram = total_ram if total_ram is not None else _total_ram_bytes()
        memory = 4096 * MB if not ram else min(16 * 1024 * MB, max(1024 * MB, ram // 3))
        values: Dict[str, Any] = {"memory_bytes": memory}
        for key, name, cast in (("SAM2_SESSION_MEMORY_MB", "memory_bytes", lambda t: int(float(t) * MB)),
                                ("SAM2_MAX_SESSIONS", "max_sessions", int),
                                ("SAM2_MAX_SESSIONS_PER_CLIENT", "max_per_client", int),
                                ("SAM2_UNCONNECTED_IDLE_S", "unconnected_idle_s", float)):
            text = env.get(key)
            if text:
                try:
                    values[name] = cast(text)
                except ValueError:
                    raise ValueError(f"{key}={text!r} is not a number") from None
        return cls(**values)

    def describe(self) -> str:
        return (f"{self.max_sessions} sessions ({self.max_per_client} per client address), "
                f"{self.memory_bytes / 1024 / MB:.1f} GB of session data; sessions without a page or "
                f"heartbeat go after {self.unconnected_idle_s:g} s idle")


# ----------------------------------------------------------------------------- connections
@dataclass
class _Connection:
    address: Optional[str] = None
    open_streams: int = 0  # heartbeat streams open now
    ever_connected: bool = False
    seen: float = field(default_factory=time.monotonic)


class Connections:
    """What the server knows of each page connection (``session_hash``): its client address
    and whether it has (or had) a heartbeat stream open: a page or a ``gradio_client``."""

    #: Connections remembered at most (the oldest unconnected ones are forgotten first).
    MAX_REMEMBERED = 20_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_hash: Dict[str, _Connection] = {}
        self._lock = threading.Lock()

    def _entry(self, session_hash: str) -> _Connection:
        entry = self._by_hash.get(session_hash)
        if entry is None:
            if len(self._by_hash) >= self.MAX_REMEMBERED:
                self._forget_oldest()
            entry = self._by_hash[session_hash] = _Connection(seen=self._clock())
        return entry

    def _forget_oldest(self) -> None:
        idle = sorted((c.seen, h) for h, c in self._by_hash.items() if c.open_streams == 0)
        for _, h in idle[: max(1, len(idle) // 10)]:
            self._by_hash.pop(h, None)

    def note(self, session_hash: Optional[str], address: Optional[str]) -> None:
        """An event of ``session_hash`` came from ``address``."""
        if not session_hash:
            return
        with self._lock:
            entry = self._entry(session_hash)
            if address:
                entry.address = address
            entry.seen = self._clock()

    def opened(self, session_hash: str, address: Optional[str] = None) -> None:
        with self._lock:
            entry = self._entry(session_hash)
            entry.open_streams += 1
            entry.ever_connected = True
            if address:
                entry.address = address
            entry.seen = self._clock()

    def closed(self, session_hash: str) -> None:
        with self._lock:
            entry = self._by_hash.get(session_hash)
            if entry is not None:
                entry.open_streams = max(0, entry.open_streams - 1)
                entry.seen = self._clock()

    def is_open(self, session_hash: Optional[str]) -> bool:
        """Whether a heartbeat stream of ``session_hash`` is open now."""
        with self._lock:
            entry = self._by_hash.get(session_hash or "")
            return entry is not None and entry.open_streams > 0

    def ever_connected(self, session_hash: Optional[str]) -> bool:
        with self._lock:
            entry = self._by_hash.get(session_hash or "")
            return entry is not None and entry.ever_connected

    def address(self, session_hash: Optional[str]) -> Optional[str]:
        with self._lock:
            entry = self._by_hash.get(session_hash or "")
            return None if entry is None else entry.address

    def forget(self, session_hash: str) -> None:
        with self._lock:
            entry = self._by_hash.get(session_hash)
            if entry is not None and entry.open_streams == 0:
                del self._by_hash[session_hash]


#: The process's connections: fed by ``ConnectionWatch`` and ``ui.common.sessions.connection_of``.
CONNECTIONS = Connections()

#: Whether to take the client address from ``X-Forwarded-For`` (behind a proxy that sets it,
#: such as Hugging Face Spaces'); elsewhere a client could name any address there.
TRUST_PROXY_ENV = "SAM2_TRUST_PROXY"


def trust_forwarded(env: Optional[Dict[str, str]] = None) -> bool:
    env = os.environ if env is None else env
    flag = env.get(TRUST_PROXY_ENV)
    if flag is not None:
        return flag.strip().lower() in ("1", "true", "yes")
    return bool(env.get("SPACE_ID"))  # on a Space every request comes through its proxy


def client_address(peer: Optional[str], forwarded_for: Optional[str], trust: Optional[bool] = None) -> Optional[str]:
    """The client's address: the first ``X-Forwarded-For`` entry when the proxy is trusted,
    else the socket's peer."""
    if forwarded_for and (trust_forwarded() if trust is None else trust):
        first = forwarded_for.split(",")[0].strip()
        if first:
            return first[:64]
    return peer


_HEARTBEAT = re.compile(r"^/gradio_api/heartbeat/([^/]{1,200})/?$")


class ConnectionWatch:
    """ASGI middleware: tells ``Connections`` when a heartbeat stream opens and closes."""

    def __init__(self, app: Callable[..., Awaitable[None]], connections: Optional[Connections] = None) -> None:
        self.app = app
        self.connections = connections or CONNECTIONS

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        match = _HEARTBEAT.match(str(scope.get("path", ""))) if scope.get("type") == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        session_hash = match.group(1)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or (None,))[0]
        self.connections.opened(session_hash, client_address(peer, headers.get("x-forwarded-for")))
        try:
            await self.app(scope, receive, send)
        finally:
            self.connections.closed(session_hash)


# ----------------------------------------------------------------------------- the budget
@dataclass
class SessionInfo:
    """One session key across the stores: what the budget weighs."""

    key: str
    last_used: float
    busy: bool
    connected: bool
    address: Optional[str]
    open: bool = False  # a page or client of it is connected now


class SessionBudget:
    """Admission and eviction for the ``SessionStore``s attached to it (see the module doc).

    ``connections_of(key)``: the page connections (``session_hash``) that use a store key
    (``SessionKeys.connections_of``; a key that is a hash stands for itself).
    """

    def __init__(self, limits: SessionLimits, connections: Optional[Connections] = None,
                 connections_of: Optional[Callable[[str], List[str]]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.connections = connections or CONNECTIONS
        self._connections_of = connections_of or (lambda key: [key])
        self._clock = clock
        self._stores: List[Any] = []
        self._lock = threading.RLock()
        self._forget_hooks: List[Callable[[str], None]] = []
        self.dropped = 0  # sessions dropped to keep within the limits (for the log and tests)

    def attach(self, store: Any) -> None:
        """Weigh ``store``'s sessions together with the others' (``store.use_budget``)."""
        if store not in self._stores:
            self._stores.append(store)
            store.use_budget(self)

    def on_forget(self, hook: Callable[[str], None]) -> None:
        """``hook(session_hash)`` when an unconnected connection is forgotten (Gradio's state)."""
        self._forget_hooks.append(hook)

    # ------------------------------------------------------------------ what there is
    def _hashes(self, key: str) -> List[str]:
        try:
            return list(self._connections_of(key)) or [key]
        except Exception:  # noqa: BLE001 - a key without known connections stands for itself
            return [key]

    def sessions(self) -> Dict[str, SessionInfo]:
        out: Dict[str, SessionInfo] = {}
        for store in self._stores:
            for key, last_used, busy in store.snapshot():
                info = out.get(key)
                if info is None:
                    hashes = self._hashes(key)
                    connected = any(self.connections.ever_connected(h) for h in hashes)
                    address = next((a for a in (self.connections.address(h) for h in hashes) if a), None)
                    is_open = any(self.connections.is_open(h) for h in hashes)
                    out[key] = SessionInfo(key, last_used, busy, connected, address, is_open)
                else:
                    info.last_used = max(info.last_used, last_used)
                    info.busy = info.busy or busy
        return out

    def usage(self, exclude: Optional[str] = None, remeasure: bool = False) -> int:
        """Bytes of session data held now (``exclude``: leave that key out; ``remeasure``:
        weigh every session again, not only those that ran an action since)."""
        return sum(store.bytes_held(exclude, remeasure=remeasure) for store in self._stores)

    def address_of(self, key: str) -> Optional[str]:
        return next((a for a in (self.connections.address(h) for h in self._hashes(key)) if a), None)

    # ------------------------------------------------------------------ dropping
    def _evictable(self, infos: Dict[str, SessionInfo], protect: str,
                   address: Optional[str] = None) -> List[SessionInfo]:
        now = self._clock()
        out = [i for i in infos.values() if i.key != protect and not i.busy
               and now - i.last_used >= (self.limits.open_min_idle_s if i.open else self.limits.min_idle_s)
               and (address is None or i.address == address)]
        # never-connected sessions first, then closed pages, then open ones; least recently used first
        out.sort(key=lambda i: (i.connected, i.open, i.last_used))
        return out

    def drop(self, key: str, why: str) -> bool:
        """Drop session ``key`` from every store (each refuses if it became busy)."""
        dropped = False
        for store in self._stores:
            dropped = store.drop_idle(key) or dropped
        if dropped:
            self.dropped += 1
            log.info("session dropped (%s)", why)
        return dropped

    def _drop_one(self, infos: Dict[str, SessionInfo], protect: str, why: str,
                  address: Optional[str] = None) -> bool:
        for info in self._evictable(infos, protect, address):
            if self.drop(info.key, why):
                del infos[info.key]
                return True
        return False

    # ------------------------------------------------------------------ the checks
    def admit(self, key: str) -> None:
        """Before a new session ``key`` is made: room for it within the counts, or
        ``ServerBusyError``."""
        with self._lock:
            infos = self.sessions()
            if key in infos:
                return
            address = self.address_of(key)
            if address is not None:
                mine = [i for i in infos.values() if i.address == address]
                while len(mine) >= self.limits.max_per_client:
                    if not self._drop_one(infos, key, "per-client limit", address):
                        raise ServerBusyError(
                            f"The server is busy: your address already has {len(mine)} sessions working "
                            f"(at most {self.limits.max_per_client} per address). Close a tab or an API "
                            "client (Client.close()), or try again when one of them is done.")
                    mine = [i for i in infos.values() if i.address == address]
            while len(infos) >= self.limits.max_sessions:
                if not self._drop_one(infos, key, "session limit"):
                    raise ServerBusyError(
                        f"The server is busy: it is serving as many sessions as it can "
                        f"({self.limits.max_sessions}). Try again in a few minutes.")

    def make_room(self, key: Optional[str], extra_bytes: int) -> None:
        """Before session ``key`` takes ``extra_bytes`` more: drop idle sessions until the
        budget has room, or ``ServerBusyError`` (nothing was changed)."""
        limit = self.limits.memory_bytes
        if extra_bytes > limit:
            raise ServerBusyError(
                f"The server is busy: this needs about {extra_bytes / MB:.0f} MB, more than the "
                f"{limit / MB:.0f} MB it keeps for all sessions together. Try a smaller file.")
        with self._lock:
            infos: Optional[Dict[str, SessionInfo]] = None
            while self.usage(exclude=key) + extra_bytes > limit:
                if infos is None:
                    infos = self.sessions()
                if not self._drop_one(infos, key or "", "memory budget"):
                    raise ServerBusyError(
                        f"The server is busy: the memory it keeps for sessions ({limit / 1024 / MB:.1f} GB) is "
                        "in use by sessions that are working. Try again in a few minutes.")

    def enforce(self) -> int:
        """Drop idle sessions while the total is over the budget (tracking grows sessions
        after their load was admitted); returns how many went."""
        gone = 0
        with self._lock:
            infos: Optional[Dict[str, SessionInfo]] = None
            self.usage(remeasure=True)  # background work (tracking) grows sessions between actions
            while self.usage() > self.limits.memory_bytes:
                if infos is None:
                    infos = self.sessions()
                if not self._drop_one(infos, "", "memory budget"):
                    break
                gone += 1
        return gone

    def sweep_unconnected(self, gradio_states: Optional[Any] = None) -> int:
        """Drop sessions that never connected a page or heartbeat and have been idle for
        ``unconnected_idle_s``; with ``gradio_states`` (Gradio's ``StateHolder``), also the
        state Gradio keeps for such connections. Returns how many sessions went."""
        now = self._clock()
        gone = 0
        for info in list(self.sessions().values()):
            if not info.connected and not info.busy and now - info.last_used > self.limits.unconnected_idle_s:
                if self.drop(info.key, "never connected"):
                    gone += 1
        if gradio_states is not None:
            self._sweep_gradio_states(gradio_states)
        return gone

    def _sweep_gradio_states(self, holder: Any) -> None:
        import datetime

        cutoff = datetime.datetime.now() - datetime.timedelta(seconds=self.limits.unconnected_idle_s)
        try:
            with holder.lock:
                stale = [h for h, t in list(holder.time_last_used.items())
                         if t < cutoff and not self.connections.ever_connected(h)]
                for h in stale:
                    holder.session_data.pop(h, None)
                    holder.time_last_used.pop(h, None)
        except AttributeError:  # another Gradio's state holder: leave it to Gradio
            return
        for h in stale:
            self.connections.forget(h)
            for hook in self._forget_hooks:
                try:
                    hook(h)
                except Exception:  # noqa: BLE001 - cleanup must not stop the sweep
                    log.exception("forgetting a connection failed")

    def start(self, interval_s: float = 15.0, gradio_states: Callable[[], Any] = lambda: None) -> threading.Thread:
        """Sweep and enforce every ``interval_s`` in a daemon thread."""

        def loop() -> None:
            while True:
                time.sleep(interval_s)
                try:
                    self.sweep_unconnected(gradio_states())
                    self.enforce()
                except Exception:  # noqa: BLE001 - the sweeper must keep running
                    log.exception("session budget sweep failed")

        thread = threading.Thread(target=loop, name="session-budget", daemon=True)
        thread.start()
        return thread


def describe_usage(budget: SessionBudget) -> Tuple[int, int]:
    """(live sessions, bytes held): for logs, tests and the load benchmark."""
    return len(budget.sessions()), budget.usage()
