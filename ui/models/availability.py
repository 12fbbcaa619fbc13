"""Can a model's weights be had on this machine? Answered cheaply, remembered for a while.

Why: ``huggingface_hub`` answers "no network, not cached" only after its retries (about
23 s per call when the Hub's name does not resolve), and the app would pay that on every
click. Here the answer comes from two cheap facts instead:

* is the checkpoint file in the local Hugging Face cache (a directory lookup), and
* can the Hub be reached at all (``HF_HUB_OFFLINE``, else one HTTP request with a short
  timeout), remembered for ``REMEMBER_S`` seconds so that a later retry can succeed once
  the network is back, without every action paying for the probe.

What a user is told never contains a server path; the cache location goes to the server
log only (``cache_location``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Callable, Optional
from sam2.configs import HF_MODELS

log = logging.getLogger("sam2.app")

#: How long a learned fact (Hub unreachable, a model that failed to load) is trusted.
REMEMBER_S = 300.0
#: The longest the app waits to learn whether the Hub answers.
HUB_PROBE_TIMEOUT_S = 3.0

#: Why the Hub cannot be used (the details, such as the socket error, go to the log).
UNREACHABLE = "the Hugging Face Hub cannot be reached"
OFFLINE_MODE = "offline mode is on (HF_HUB_OFFLINE)"

#: What a user can do when the weights cannot be had (shown in the page: no server paths).
FIX_HINT = ("start the app with `--checkpoint PATH` (weights from `bash checkpoints/download_ckpts.sh`), "
            "or set HF_HOME to a Hugging Face cache that holds them")


def offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` is set: ``huggingface_hub`` will not use the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def cache_location() -> str:
    """The Hugging Face hub cache directory (for the server log, never for the page)."""
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001
        return os.path.expanduser("~/.cache/huggingface/hub")


def cached_checkpoint(model_id: str) -> Optional[str]:
    """Path of ``model_id``'s checkpoint in the local Hugging Face cache, or None (no network)."""
    if model_id not in HF_MODELS:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id=model_id, filename=HF_MODELS[model_id][1])
    except Exception:  # noqa: BLE001 - a broken cache counts as "not cached"
        return None
    return found if isinstance(found, str) and os.path.isfile(found) else None


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT).rstrip("/")
    except Exception:  # noqa: BLE001
        return "https://huggingface.co"


def _http_probe(url: str, timeout_s: float) -> Optional[str]:
    """None when ``url`` answers (any HTTP status below 500), else why not (one short line)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - DNS failure, refused, timeout, TLS...
        reason = getattr(exc, "reason", exc)
        return f"{type(reason).__name__}: {reason}"


class HubProbe:
    """Whether the Hugging Face Hub can be reached, asked at most once per ``remember_s``.

    Thread-safe: sessions asking at the same time wait for one probe. ``probe`` (URL,
    timeout) -> None or a reason is injectable for tests.
    """

    def __init__(self, timeout_s: float = HUB_PROBE_TIMEOUT_S, remember_s: float = REMEMBER_S,
                 probe: Callable[[str, float], Optional[str]] = _http_probe,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self.remember_s = remember_s
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._known: Optional[tuple] = None  # (time, reason or None)

    def unreachable_reason(self) -> Optional[str]:
        """None if the Hub answers, else ``OFFLINE_MODE`` or ``UNREACHABLE``."""
        if offline_mode():
            return OFFLINE_MODE
        with self._lock:
            if self._known is not None and self._clock() - self._known[0] < self.remember_s:
                return self._known[1]
            t0 = time.perf_counter()
            reason = self._probe(_hub_endpoint(), self.timeout_s)
            self._known = (self._clock(), None if reason is None else UNREACHABLE)
            if reason is not None:
                log.warning("Hugging Face Hub unreachable (%s, %.1f s); checking again in %.0f s",
                            reason, time.perf_counter() - t0, self.remember_s)
            return self._known[1]

    def reachable(self) -> bool:
        return self.unreachable_reason() is None

    def mark_unreachable(self, reason: str) -> None:
        """A download just failed for network reasons: trust that for ``remember_s``."""
        log.warning("Hugging Face Hub download failed (%s); checking again in %.0f s", reason, self.remember_s)
        with self._lock:
            self._known = (self._clock(), UNREACHABLE)

