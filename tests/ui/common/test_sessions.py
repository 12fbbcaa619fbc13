"""Session keys, the session store's aliases and per-session files (no Gradio, no model)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ui.common.sessions import SessionFiles, SessionKeys, SessionStore


def test_keys_are_issued_signed_and_unguessable():
    keys = SessionKeys()
    a, b = keys.issue(), keys.issue()
    assert a != b and keys.is_valid(a) and keys.is_valid(b)
    nonce, sig = a.split(".")
    assert len(nonce) >= 24 and len(sig) == 32
    # a made-up key, a tampered one, another server's, or junk: not accepted
    assert not keys.is_valid(nonce + "." + "0" * 32)
    assert not keys.is_valid(nonce[:-1] + ("A" if nonce[-1] != "A" else "B") + "." + sig)
    assert not SessionKeys().is_valid(a)
    for junk in (None, "", ".", "abc", 42, ["x"], "a.b.c", "x" * 200):
        assert not keys.is_valid(junk)


def test_attach_accepts_only_our_keys_and_resolves_the_connection():
    keys = SessionKeys()
    k = keys.attach("page1", "")
    assert keys.is_valid(k) and keys.resolve("page1") == SessionKeys.PREFIX + k
    keys.detach("page1")
    assert keys.attach("page2", k) == k  # the reload: same key, new connection
    assert keys.resolve("page2") == keys.resolve("page1")
    forged = keys.attach("page3", "someone-elses-session")
    assert forged != "someone-elses-session" and keys.resolve("page3") != keys.resolve("page1")
    assert keys.resolve("api-client") == "api-client"  # never attached: its own hash
    assert keys.detach("api-client") is None and keys.detach(None) is None


def test_a_duplicated_tab_gets_its_own_session_and_the_original_keeps_its_work():
    """Chrome's "Duplicate" copies sessionStorage: the copy presents the key of a page that
    is still open. It must not share that page's session: it starts with a fresh key, empty."""
    keys = SessionKeys()
    keys.RELOAD_GRACE_S = 0.3
    store: SessionStore[dict] = SessionStore(dict)
    store.use_keys(keys)
    k = keys.attach("original", "")
    store.adopt("original")
    store.run("original", lambda st: st.update(image="cat"))
    t0 = time.monotonic()
    dup = keys.attach("duplicate", k)
    waited = time.monotonic() - t0
    store.adopt("duplicate")
    assert dup != k and keys.is_valid(dup) and waited >= 0.3  # it waited for a close that never came
    assert keys.resolve("duplicate") != keys.resolve("original")
    assert store.run("duplicate", lambda st: dict(st)) == {}
    store.run("duplicate", lambda st: st.update(image="dog"))
    assert store.run("original", lambda st: st["image"]) == "cat"
    # The same connection attaching again (its own key) does not wait and keeps it.
    t0 = time.monotonic()
    assert keys.attach("original", k) == k and time.monotonic() - t0 < 0.3


def test_a_reload_whose_old_page_closes_late_keeps_its_session():
    """The new page's load may come before the old page's close is reported: attach waits
    for that close (up to RELOAD_GRACE_S) and then hands over the same key."""
    keys = SessionKeys()
    keys.RELOAD_GRACE_S = 30.0
    k = keys.attach("before-reload", "")
    closer = threading.Timer(0.2, keys.detach, args=("before-reload",))
    closer.start()
    t0 = time.monotonic()
    assert keys.attach("after-reload", k) == k
    assert 0.1 < time.monotonic() - t0 < 10  # returned when the close came, not at the deadline
    closer.join()
    assert keys.resolve("after-reload") == keys.resolve("before-reload")


def test_a_reload_the_browser_reports_keeps_its_session_without_waiting():
    """The browser says the load is a reload (F5): the key is kept at once, even though the
    old page's close never came (its connection died silently)."""
    keys = SessionKeys()
    keys.RELOAD_GRACE_S = 30.0
    k = keys.attach("before-reload", "")
    t0 = time.monotonic()
    assert keys.attach("after-reload", k, reload=True) == k
    assert time.monotonic() - t0 < 1.0
    assert keys.resolve("after-reload") == keys.resolve("before-reload")


def test_a_closed_page_keeps_its_alias_for_a_while():
    """Gradio reports a page closed when its heartbeat drops; a page that is still open
    (network blip) must keep reaching its session. Old aliases are pruned."""
    now = [0.0]
    keys = SessionKeys(clock=lambda: now[0])
    k = keys.attach("page1", "")
    assert keys.detach("page1") == SessionKeys.PREFIX + k
    assert keys.resolve("page1") == SessionKeys.PREFIX + k
    now[0] = SessionKeys.CLOSED_ALIAS_TTL_S + 1
    keys.attach("page2", k)  # pruning happens as pages attach
    assert keys.resolve("page1") == "page1" and keys.resolve("page2") == SessionKeys.PREFIX + k


def test_store_finds_the_same_state_after_a_reload():
    keys = SessionKeys()
    store: SessionStore[dict] = SessionStore(dict)
    store.use_keys(keys)
    k = keys.attach("page1", None)
    store.adopt("page1")
    store.run("page1", lambda st: st.update(image="cat"))
    keys.detach("page1")  # the old page unloads; the state stays
    assert len(store) == 1
    keys.attach("page2", k)
    store.adopt("page2")
    assert "page2" in store and store.run("page2", lambda st: st["image"]) == "cat"


def test_adopt_moves_early_work_to_the_key_and_restored_work_wins():
    keys = SessionKeys()
    dropped = []
    store: SessionStore[dict] = SessionStore(dict, on_drop=dropped.append)
    store.use_keys(keys)
    store.run("fresh", lambda st: st.update(early=True))  # an event before the page's load event
    keys.attach("fresh", "")
    store.adopt("fresh")
    assert store.run("fresh", lambda st: st) == {"early": True} and len(store) == 1
    # a reload whose connection already made an (empty) entry before attaching: the old work wins
    k = keys.resolve("fresh")[len(SessionKeys.PREFIX):]
    store.run("reload", lambda st: st.update(stray=True))
    keys.detach("fresh")  # the old page is gone
    keys.attach("reload", k)
    store.adopt("reload")
    assert store.run("reload", lambda st: st) == {"early": True}
    assert dropped == [{"stray": True}] and len(store) == 1


def test_idle_sweep_frees_a_closed_tabs_session():
    now = [0.0]
    keys = SessionKeys()
    released = []
    store: SessionStore[dict] = SessionStore(dict, max_idle_s=60, on_drop=released.append, clock=lambda: now[0])
    store.use_keys(keys)
    keys.attach("page", "")
    store.adopt("page")
    store.run("page", lambda st: st.update(x=1))
    keys.detach("page")
    now[0] = 59.0
    assert store.sweep() == [] and len(store) == 1
    now[0] = 61.0
    assert len(store.sweep()) == 1 and released == [{"x": 1}]


def test_session_files_replace_a_kind_and_cleanup_removes_the_folder():
    files = SessionFiles()
    a = files.path("a.png", "export")
    b = files.path("b.json", "preview")
    for p in (a, b):
        with open(p, "w") as f:
            f.write("x")
    files.clear("export")
    assert not os.path.exists(a) and os.path.exists(b)
    folder = files.folder
    files.cleanup()
    assert folder is not None and not os.path.exists(folder) and files.folder is None
    with pytest.raises(RuntimeError):
        SessionStore(dict).get(None)
