"""``PromptCanvas``: the picture you click on, as one Gradio component (Python + JS + CSS).

How a tab uses it
-----------------
::

    from ui.canvas import PromptCanvas, CanvasUpdate, PointEvent, BoxEvent

    canvas = PromptCanvas(mode="image", elem_id="image-canvas")     # or mode="video"

    def on_point(state, evt: gr.EventData):
        p = PointEvent.parse(evt, size=(state.width, state.height))  # original pixels
        ...                                                           # run the predictor
        return CanvasUpdate(masks={0: {obj_id: mask_png(mask, color)}}, ack=p.seq,
                            prompts={0: {obj_id: {"points": pts, "box": box}}}).to_value()

    # One listener per event. trigger_mode="multiple": no gesture is dropped while another
    # is answered; one concurrency_id: they are answered in order; api_visibility="private":
    # the API keeps its own named endpoints with explicit x, y (gradio_client cannot send
    # event data), the canvas's events stay out of it.
    ordered = dict(trigger_mode="multiple", concurrency_id="prompts", concurrency_limit=1,
                   api_visibility="private")
    canvas.point(on_point, inputs=[state], outputs=[canvas, status], **ordered)

Events it emits (``gr.EventData._data``; parse them with ``ui.canvas.events``):

============== ======================================================== ================
event          when                                                     payload
============== ======================================================== ================
point          left click (label 1); right click, Shift+click, long      x, y, label,
               press on touch (label 0); a drag shorter than a few px    frame, object, seq
box            press-drag-release (clamped to the picture)               x0, y0, x1, y1,
                                                                         frame, object, seq
undo           Z                                                         object, frame
new_object     N                                                         object, frame
candidate      1 / 2 / 3, or a click on a candidate chip                 index, frame
delete_object  Delete / Backspace with an object selected                object, frame
select_object  [ / ] / Tab / Shift+Tab (the browser selects at once)     object, frame
pick_region    a click on a "segment everything" region                 index, frame
seek           a click or drag on the timeline, scrub, step, pause       index (= frame)
upload         a file dropped, pasted, or browsed (click on an empty     path, name, url
               canvas or on the corner button); already uploaded
history        Ctrl+Z (step -1), Ctrl+Shift+Z / Ctrl+Y (step +1)         step, frame
stroke         a press-drag-release with the brush (B) or eraser (E)     points [[x, y]..],
                                                                         radius, erase,
                                                                         frame, object, seq
window         a clip's playhead nears frames the page does not hold     start, end,
               (a clip sent with ``count``: the page holds a window)     clip_key
============== ======================================================== ================

Coordinates are original-image pixels (see ``ui.canvas.events``). ``object`` is the id the
browser has selected (None if none). Gestures made while a picture is still loading are
queued and sent once it has loaded; gestures while ``busy`` is set show the busy message.
Keys act when the pointer is over the canvas or it has focus; keys that need something
(an object, candidates, a half-drawn box) show a short hint when it is missing.

What it draws is what Python sends as the component's value: ``CanvasUpdate(...).to_value()``
(see ``ui.canvas.scene``), a *change* merged into the scene the browser keeps. The browser
draws points and boxes the moment they are made and replaces them with the prompts Python
sends back; masks are small palette PNGs already in the object's colour (``mask_png``).

Masks are drawn only for objects listed in ``objects`` (send the list, with colours, before or
with the first mask). ``ui/canvas/demo.py`` is a complete example with stand-in handlers.

Latency: the event round trip through Gradio's queue is most of the component's cost
(``bench/canvas_latency.py``); the browser-side work per update (merge + draw) is a few ms.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal, Optional, Sequence, Tuple

import gradio as gr

from ui.canvas.events import EVENT_NAMES
from ui.canvas.gradio_stubs import skip_stub_files
from ui.canvas.raster import PALETTE, color_hex

skip_stub_files()  # before the class statement: no component.pyi beside this file

_HERE = os.path.dirname(os.path.abspath(__file__))

#: Pixels (CSS) a press may move and still count as a click; ms before a touch is a long press.
CLICK_SLOP_PX = 6
LONG_PRESS_MS = 500

HELP_IMAGE = ("Click: add · Right-click / Shift+click: exclude · Drag: box · Z: undo · "
              "N: new object · 1 2 3: candidate · Del: delete object · [ ]: objects · "
              "Wheel: zoom · Space+drag: pan · 0: fit · ?: all keys")
HELP_VIDEO = HELP_IMAGE + " · Space: play/pause · ← →: step"

#: The "?" overlay: (key or gesture, what it does), in the order shown. Both modes share the
#: first part; the video mode adds the player's keys.
KEYS_COMMON = (
    ("Click", "add a foreground point (to the selected object)"),
    ("Right-click · Shift+click · long press", "add a background point"),
    ("Drag", "draw a box"),
    ("Z", "undo the selected object's last prompt or stroke"),
    ("Ctrl+Z · Ctrl+Shift+Z · Ctrl+Y", "undo / redo any change (Clear all and Delete object too)"),
    ("N", "new object"),
    ("1 2 3", "choose candidate mask"),
    ("[ ] · Tab · Shift+Tab", "select the previous / next object"),
    ("Del · Backspace", "delete the selected object"),
    ("B · E", "brush / eraser on the selected object's mask (again or Esc: back to clicks)"),
    ("[ ] · Alt+wheel (brush)", "brush size"),
    ("Esc", "drop the box being drawn; leave the brush; close this help"),
    ("Wheel · pinch · + −", "zoom (around the pointer)"),
    ("Space+drag · middle button · two fingers", "pan"),
    ("0", "fit the whole picture"),
    ("Shift+0", "100 %: one picture pixel per screen pixel"),
    ("?", "show / hide this help"),
)
KEYS_VIDEO = (
    ("Space (tap)", "play / pause"),
    ("← →", "previous / next frame"),
    ("Home · End", "first / last frame"),
)

#: For ``.then(None, None, [canvas], js=...)``: show / end the canvas's "Preparing…" state from
#: the browser. The end runs after the prepare step whatever happened there (``.then`` follows
#: failures too), so a failed prepare cannot leave the canvas saying "Preparing".
SHOW_PREPARING_JS = "() => ({v: 1, seq: 'prep-' + Date.now(), preparing: {text: 'Preparing image…', eta_s: null}})"
END_PREPARING_JS = "() => ({v: 1, seq: 'prep-end-' + Date.now(), preparing: null})"

_TEMPLATE = """
<div class="sc-root" tabindex="0" data-state="empty">
  <div class="sc-stage">
    <div class="sc-frame"><canvas class="sc-picture"></canvas><canvas class="sc-canvas"></canvas></div>
    <div class="sc-drop"><span class="sc-drop-text"></span></div>
    <button type="button" class="sc-browse" title="Open another file">&#x21EA;</button>
    <div class="sc-hint" aria-live="polite"></div>
    <div class="sc-prep" role="status"><span class="sc-prep-text"></span><div class="sc-prep-bar"><i></i></div></div>
    <button type="button" class="sc-keys-btn" title="Keys and gestures (?)">?</button>
    <div class="sc-keys" hidden><table><tbody></tbody></table><div class="sc-keys-foot">? or Esc closes</div></div>
    <input type="file" class="sc-file" hidden>
  </div>
  <div class="sc-legend"></div>
  <div class="sc-candidates"></div>
  <div class="sc-player">
    <button type="button" class="sc-prev" title="Previous frame (&#x2190;)"><svg viewBox="0 0 16 16"><path d="M3 2h2v12H3zM14 2v12L6 8z"/></svg></button>
    <button type="button" class="sc-play" title="Play / pause (Space)"><svg viewBox="0 0 16 16"><path d="M4 2v12l10-6z"/></svg></button>
    <button type="button" class="sc-next" title="Next frame (&#x2192;)"><svg viewBox="0 0 16 16"><path d="M11 2h2v12h-2zM2 2v12l8-6z"/></svg></button>
    <input type="range" class="sc-scrub" min="0" max="0" value="0" step="1" aria-label="Frame">
    <span class="sc-frame-label">0 / 0</span>
    <select class="sc-effect" title="Live effect while playing (what the MP4 export draws)" aria-label="Effect"></select>
  </div>
  <canvas class="sc-timeline"></canvas>
  <div class="sc-help"></div>
</div>
"""


def _read(name: str) -> str:
    with open(os.path.join(_HERE, name), encoding="utf-8") as f:
        return f.read()


def canvas_config(mode: str, max_height: str, effects: Sequence[Tuple[str, str]] = ()) -> dict:
    """Settings the browser side reads from ``props.config`` (one home for colours and help)."""
    return {
        "mode": mode,
        "help": HELP_VIDEO if mode == "video" else HELP_IMAGE,
        "accept": "video/*" if mode == "video" else "image/*",
        "drop_text": ("Drop a video here, or click to browse" if mode == "video"
                      else "Drop an image here, click to browse, or paste"),
        # The one palette (ui.canvas.raster.PALETTE): the server gives each object its colour from
        # it; the browser uses it only for the provisional mark of an object not listed yet.
        "palette": [color_hex(c) for c in PALETTE],
        "keys": [list(k) for k in KEYS_COMMON + (KEYS_VIDEO if mode == "video" else ())],
        "click_slop_px": CLICK_SLOP_PX,
        "long_press_ms": LONG_PRESS_MS,
        "max_height": max_height,
        # (label, key) of the video effects drawn live in the player (the tab passes the MP4
        # export's own list, ui.video.render.EFFECT_CHOICES); none: no effect picker.
        "effects": [list(e) for e in effects],
        "events": list(EVENT_NAMES),
    }


class PromptCanvas(gr.HTML):
    """The interactive canvas (see the module docstring for its events and its value)."""

    def __init__(self, mode: Literal["image", "video"] = "image", *, max_height: str = "75vh",
                 elem_id: Optional[str] = None, value: Optional[dict] = None,
                 effects: Sequence[Tuple[str, str]] = (), **kwargs: Any) -> None:
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', got {mode!r}")
        config = canvas_config(mode, max_height, effects)
        # The settings travel inside the code as well as in the props: a component mounted in
        # a tab that is not shown yet can get its js_on_load run without its custom props.
        js = f"const CANVAS_CONFIG = {json.dumps(config)};\n" + _read("canvas.js")
        missing = [e for e in EVENT_NAMES if f"'{e}'" not in js]
        if missing:  # gr.HTML only exposes custom events it finds quoted in the JS
            raise RuntimeError(f"canvas.js does not emit {missing}")
        super().__init__(
            value=value,
            html_template=_TEMPLATE,
            css_template=_read("canvas.css"),
            js_on_load=js,
            elem_id=elem_id,
            apply_default_css=False,
            config=config,
            **kwargs,
        )

    def postprocess(self, value: Any) -> Any:
        """Accept a ``CanvasUpdate`` or its dict; JSON-check it here, not in the browser."""
        if value is None or isinstance(value, dict):
            out = value
        elif hasattr(value, "to_value"):
            out = value.to_value()
        else:
            raise TypeError(f"PromptCanvas takes a CanvasUpdate or dict, got {type(value).__name__}")
        if out is not None:
            json.dumps(out)
        return out

    def api_info(self) -> dict:
        return {"type": "object", "description": "canvas update message (ui.canvas.scene)"}

    def example_payload(self) -> Any:
        return {}

    def example_value(self) -> Any:
        return {}
