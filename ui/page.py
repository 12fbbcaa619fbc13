"""Assemble the whole page: header, model selector, tabs, sessions and temporary files.

``build_demo`` returns a ``gr.Blocks`` that has not been launched; ``launch_options``
returns what belongs to ``launch()`` in Gradio 6 (theme, css, upload limit).

Sessions survive a page reload: the page keeps a server-issued key (``ui.common.sessions.SessionKeys``)
in the tab's ``sessionStorage`` and sends it once on load; the load event then shows both
tabs as they were. A closed tab's session stays until the idle sweep frees it (a reload
closes the old page too), while a closed ``gradio_client`` session is freed at once.
Gradio's own temporary copies (uploads, rendered canvases, offered downloads) are deleted
by ``delete_cache`` once they are older than the idle time plus a margin, and the app's own
files (``ui.common.run_folder``) by the same age.

Both tabs' sessions share one ``SessionBudget`` (``ui.common.session_limits``): a memory
budget, a cap on sessions and on sessions per client address, a short life for sessions that
never connect; the bounds are in ``docs/limits.md``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import gradio as gr

from ui.image.controller import ImageController
from ui.image.engine import ImageEngine
from ui.image.find import ImageFind
from ui.find.finder import Finder
from ui.image.tab import EverythingDefaults, ImageTab
from ui.models.names import EDGETAM_TRADE, model_label
from ui.models.registry import ModelRegistry
from ui.common.errors import ModelUnavailableError
from ui.tabkit.model_dropdown import dropdown_update, model_dropdown
from ui.common import run_folder
from ui.tabkit.gradio_cache import atomic_cache_writes
from ui.tabkit.input_errors import explain_input_errors
from ui.common.request_limits import RemoteFileRefGuard, RequestSizeLimit, UnknownEndpointGuard
from ui.common.session_limits import ConnectionWatch, SessionBudget, SessionLimits
from ui.common.sessions import SessionKeys, connection_of

log = logging.getLogger("sam2.app")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_DIR = os.path.join(REPO_ROOT, "examples")

#: Largest accepted upload (images and videos).
MAX_FILE_SIZE = "200mb"
#: Connections whose state Gradio keeps (least recently used go first).
GRADIO_STATE_CAPACITY = 2000

#: The tab's key lives in sessionStorage: kept by a reload, not shared with other tabs
#: (localStorage, e.g. ``gr.BrowserState``, would make two tabs edit one session).
SESSION_STORAGE_KEY = "sam2-studio-session"
#: What the page sends on load: its stored key, with RELOAD_MARK appended when the browser
#: says this load is a reload (F5) of the page that stored it.
RELOAD_MARK = "#reload"
READ_KEY_JS = (f"() => (sessionStorage.getItem('{SESSION_STORAGE_KEY}') || '') + "
               f"(((performance.getEntriesByType('navigation')[0] || {{}}).type === 'reload') ? '{RELOAD_MARK}' : '')")
SAVE_KEY_JS = f"(k) => {{ if (k) sessionStorage.setItem('{SESSION_STORAGE_KEY}', k); }}"
#: The tab the work was on, kept like the key (per browser tab, through F5).
TAB_STORAGE_KEY = "sam2-studio-tab"
#: After the session is back: show the tab it was on (by the tab buttons, in the browser; a
#: ``gr.Tabs`` output of the restore raced with a user's own early click on a tab).
SHOW_TAB_JS = """() => {
  window.__sam2TabShown = true;
  const names = {image: 'Image', video: 'Video'};
  const tab = sessionStorage.getItem('""" + TAB_STORAGE_KEY + """');
  if (!names[tab]) return;
  const button = [...document.querySelectorAll('#main-tabs [role=tab]')].find((b) => b.innerText.trim() === names[tab]);
  if (button && button.getAttribute('aria-selected') !== 'true') button.click();
}"""
#: Light or dark, as the user last chose on this browser (localStorage: every tab alike).
THEME_STORAGE_KEY = "sam2-studio-theme"
TOGGLE_THEME_JS = f"""() => {{
  const dark = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', dark);
  localStorage.setItem('{THEME_STORAGE_KEY}', dark ? 'dark' : 'light');
}}"""
#: Run once per page load. (1) The theme the user chose last. (2) Space never re-runs the
#: button clicked last: a clicked button keeps the keyboard focus, and browsers press a
#: focused button on Space; here Space on a button is taken away from it and, when a clip is
#: loaded in the video tab shown, plays or pauses it as Space does over the player.
PAGE_JS = f"""() => {{
  const saved = localStorage.getItem('{THEME_STORAGE_KEY}');
  if (saved === 'dark' || saved === 'light') document.body.classList.toggle('dark', saved === 'dark');
  const isButton = (t) => !!t && (t.tagName === 'BUTTON' || (t.getAttribute && t.getAttribute('role') === 'button'));
  document.addEventListener('keydown', (e) => {{
    if (e.key !== ' ' || e.ctrlKey || e.metaKey || e.altKey || !isButton(e.target)) return;
    e.preventDefault(); e.stopPropagation();
    e.target.blur();
    const root = document.querySelector('#video-canvas .sc-root');
    const S = root && root.__canvas;
    if (root && root.offsetParent !== null && S && S.frames && S.frames.length) {{
      root.focus();
      root.dispatchEvent(new KeyboardEvent('keydown', {{ key: ' ', bubbles: true, cancelable: true }}));
    }}
  }}, true);
  document.addEventListener('keyup', (e) => {{ if (e.key === ' ' && isButton(e.target)) e.preventDefault(); }}, true);
}}"""

CSS = """
#image-status p { margin: 0.15em 0; }
#video-canvas img { cursor: crosshair; }
#video-status p { margin: 0.15em 0; }
/* A compact header: title, model and theme on one row, so the work area starts high. */
#page-header { align-items: center; }
#page-title h2 { margin: 0; font-size: 1.3em; }
#page-title p { margin: 0.1em 0 0 0; font-size: 0.9em; }
#model-select { padding-top: 4px; padding-bottom: 4px; }
/* No empty player or timeline before a clip is loaded. */
#video-canvas .sc-root[data-state="empty"] .sc-timeline,
#video-canvas .sc-root[data-state="empty"] .sc-player { display: none; }
"""


@dataclass(frozen=True)
class AppConfig:
    """Command-line options that shape the app (see ``app.py --help``)."""

    model: Optional[str] = None  # Hub id or short name; None: tiny on CPU, large on CUDA
    checkpoint: Optional[str] = None  # local weights for ``model``
    device: Optional[str] = None  # None: CUDA when available
    examples_dir: Optional[str] = EXAMPLES_DIR
    max_idle_minutes: float = 30.0
    concurrency_limit: int = 4
    max_loaded_models: int = 2
    video: bool = True
    precision: str = "auto"  # exact | fast | auto (see sam2.precision)
    # Gradio's temporary files older than this are deleted (None: idle time + 30 min, so a
    # file is never deleted while the session that shows it can still come back) ...
    cache_max_age_s: Optional[float] = None
    # ... checked this often (None: every 10 min, or the age if shorter).
    cache_sweep_s: Optional[float] = None
    # Bounds on sessions (memory, count, per client); None: ``SessionLimits.from_env()``.
    session_limits: Optional[SessionLimits] = None

    def cache_policy(self) -> tuple:
        """``gr.Blocks(delete_cache=...)``: (check every N s, delete files older than M s)."""
        age = self.cache_max_age_s if self.cache_max_age_s is not None else self.max_idle_minutes * 60.0 + 1800.0
        every = self.cache_sweep_s if self.cache_sweep_s is not None else min(600.0, age)
        return (max(1, int(round(every))), max(1, int(round(age))))


def make_registry(config: AppConfig) -> ModelRegistry:
    """The app's model registry for ``config`` (``ValueError`` for bad options)."""
    return ModelRegistry(device=config.device, default_model=config.model, checkpoint=config.checkpoint,
                         max_loaded=config.max_loaded_models, precision=config.precision)


def build_demo(config: AppConfig = AppConfig(), registry: Optional[ModelRegistry] = None) -> gr.Blocks:
    """The Blocks for the app; models load lazily on first use."""
    registry = registry or make_registry(config)
    idle_s = config.max_idle_minutes * 60.0
    keys = SessionKeys()
    image_controller = ImageController(ImageEngine(registry), max_idle_s=idle_s)
    image_controller.sessions.use_keys(keys)
    image_controller.sessions.start_sweeper(interval_s=min(60.0, idle_s))
    on_gpu = registry.device.startswith("cuda")
    everything = EverythingDefaults(points_per_side=32 if on_gpu else 16)
    finder = Finder(device=registry.device)  # the detector loads on the first Find, once per process

    with gr.Blocks(title="SAM 2 — Segment Anything in images and videos",
                   delete_cache=config.cache_policy()) as demo:
        with gr.Row(equal_height=True, elem_id="page-header"):
            gr.Markdown(_header(registry), elem_id="page-title", scale=3)
            model = model_dropdown(registry)
            theme_btn = gr.Button("◐ Light / dark", size="sm", scale=0, min_width=110, elem_id="theme-toggle")
        theme_btn.click(None, None, None, js=TOGGLE_THEME_JS)
        session_key = gr.Textbox(visible=False, elem_id="session-key")
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab("Image", id="image") as image_page:
                image_tab = ImageTab(image_controller, config.examples_dir, everything,
                                     concurrency_limit=config.concurrency_limit,
                                     find=ImageFind(image_controller, finder))
                image_tab.build(model)
            video_tab = None
            if config.video:
                video_tab = _build_video_tab(registry, config, model, finder)
        for tab_id, page in (("image", image_page), ("video", getattr(video_tab, "page", None))):
            if page is not None:
                # Only the user's choices count: the first tab also "selects" as the page mounts.
                page.select(None, None, None, js=f"() => {{ if (window.__sam2TabShown) "
                                                 f"sessionStorage.setItem('{TAB_STORAGE_KEY}', '{tab_id}'); }}")
        tabs = [t for t in (image_tab, video_tab) if t is not None]
        for tab in tabs[1:]:
            tab.controller.sessions.use_keys(keys)
        budget = _session_budget(config, keys, tabs, demo)
        _wire_sessions(demo, keys, session_key, model, tabs, registry)
        demo.load(None, None, None, js=PAGE_JS)
    explain_input_errors(demo)  # inputs Gradio cannot convert get a message, not "error: null"
    atomic_cache_writes()  # two sessions' identical pictures must not truncate each other's download
    every, age = config.cache_policy()
    run_folder.current().start_sweeper(max_age_s=age, every_s=every)  # the app's own files age out too
    demo.sam2_registry = registry  # type: ignore[attr-defined]
    demo.sam2_image_controller = image_controller  # type: ignore[attr-defined]
    demo.sam2_video_controller = video_tab.controller if video_tab is not None else None  # type: ignore[attr-defined]
    demo.sam2_session_keys = keys
    demo.sam2_session_budget = budget  # type: ignore[attr-defined]
    return demo


def _session_budget(config: AppConfig, keys: SessionKeys, tabs: List[Any], demo: gr.Blocks) -> SessionBudget:
    """One budget over both tabs' sessions (``ui.common.session_limits``), swept in the background;
    it also forgets the aliases and Gradio's state of connections that never connected."""
    limits = config.session_limits or SessionLimits.from_env()
    budget = SessionBudget(limits, connections_of=keys.connections_of)
    for tab in tabs:
        budget.attach(tab.controller.sessions)
    budget.on_forget(keys.forget)
    budget.start(interval_s=min(15.0, limits.unconnected_idle_s / 2),
                 gradio_states=lambda: getattr(demo, "state_holder", None))
    log.info("session limits: %s", limits.describe())
    return budget


def _wire_sessions(demo: gr.Blocks, keys: SessionKeys, session_key: gr.Textbox, model: gr.Dropdown,
                   tabs: List[Any], registry: ModelRegistry) -> None:
    """Page load: bind this connection to the tab's key and show its work again (the model
    selector included, with fresh marks of the models that cannot load here), on the tab
    (Image / Video) the work was on; unload: keep a tab's session for a reload, free an API
    client's at once."""

    def restore(key: Optional[str], request: gr.Request) -> Dict[Any, Any]:
        sid = connection_of(request)
        key = key or ""
        reload = key.endswith(RELOAD_MARK)
        key = key[:-len(RELOAD_MARK)] if reload else key
        out: Dict[Any, Any] = {session_key: keys.attach(sid, key, reload=reload)}
        for tab in tabs:
            tab.controller.sessions.adopt(sid)
        model_id = None
        for tab in reversed(tabs):  # the image tab's model wins when both tabs have a session
            try:
                out.update(tab.restore(sid))
                model_id = tab.session_model(sid) or model_id
            except Exception:  # noqa: BLE001 - a tab that cannot be redrawn starts empty, the page still loads
                log.exception("could not restore a session after a reload")
        out[model] = dropdown_update(registry, model_id)
        return out

    outputs = [session_key, model] + [c for tab in tabs for c in tab.restore_outputs()]
    # Its own queue group without a limit: a page comes back at once, not behind other work.
    demo.load(restore, [session_key], outputs, js=READ_KEY_JS, api_visibility="private",
              concurrency_id="session_restore", concurrency_limit=None).then(
        None, [session_key], None, js=SAVE_KEY_JS).then(None, None, None, js=SHOW_TAB_JS)

    def forget(request: gr.Request) -> None:
        sid = request.session_hash if request is not None else None
        if keys.detach(sid) is not None:
            return  # a page: its session waits for a reload until the idle sweep frees it
        for tab in tabs:
            tab.controller.drop(sid)

    demo.unload(forget)


def _header(registry: ModelRegistry) -> str:
    """Title, how to use it, and where the default model comes from (or why it cannot)."""
    source = "local checkpoint" if registry.checkpoint else "Hugging Face Hub"
    when = "is loaded" if registry.is_loaded(None) else "loads on first use"
    # How to click is under the picture (the canvas's help line), so the header stays two lines.
    text = ("## SAM 2 Studio\n"
            f"Segment anything in images and videos: click an object. The model {when} (default "
            f"**{model_label(registry.default_model)}** from the {source}, on **{registry.device}**). "
            f"<span title=\"{EDGETAM_TRADE}\">EdgeTAM: much faster tracking on a CPU, a little less accurate.</span>")
    try:
        registry.require_available(registry.default_model)
    except ModelUnavailableError as exc:
        text += f"\n\n⚠️ {exc}"
    return text


def _build_video_tab(registry: ModelRegistry, config: AppConfig, model: gr.Dropdown,
                     finder: Optional[Finder] = None) -> Any:
    """The video tab, when its module is available (returns the ``VideoTab`` or None)."""
    import importlib.util

    if importlib.util.find_spec("ui.video.tab") is None:
        return None
    from ui.video.tab import build_video_tab

    return build_video_tab(registry, config, model, finder)


def launch_options() -> Dict[str, Any]:
    """``launch()`` arguments: theme, CSS, the upload limit, the same limit for files sent
    any other way (a ``data:`` URL in a request body), and no file fetched from a URL a
    request names (``ui.common.request_limits``; the size guard runs first and bounds the body the
    URL guard reads)."""
    from starlette.middleware import Middleware


    guard = Middleware(RequestSizeLimit, upload_limit=MAX_FILE_SIZE.upper().replace("MB", " MB"))
    middleware = [Middleware(ConnectionWatch), guard, Middleware(RemoteFileRefGuard), Middleware(UnknownEndpointGuard)]
    # Gradio keeps ~0.3 MB of state per connection (a copy of the page's config), for 10,000
    # connections by default; connections that never connect a heartbeat are also swept
    # (``ui.common.session_limits``).
    return dict(theme=gr.themes.Soft(), css=CSS, max_file_size=MAX_FILE_SIZE,
                state_session_capacity=GRADIO_STATE_CAPACITY, app_kwargs={"middleware": middleware})
