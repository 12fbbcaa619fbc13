"""The "Video" tab: components and event wiring only; behaviour lives in ``VideoController``.

The frame is a ``PromptCanvas(mode="video")``: upload by drop / paste / browse on it, the same
gestures and keys as the image tab, a player that plays the frames and masks held in the
browser, and a timeline. Its gestures call the same controller functions as the named
endpoints below; those keep their outputs, and a private step after each brings the canvas
to the new state.

Upload a clip (or pick an example), click on objects in any frame, track them forward,
backward or both ways, correct any frame (clicks, or the brush / eraser: a painted frame becomes
the object's mask prompt there) and track again, then download the results. Ctrl+Z /
Ctrl+Shift+Z / Ctrl+Y undo and redo any change (``VideoController.history``).
Uploads are bounded (CPU: 5 min, 1,800 frames, 15 fps, 480p; CUDA: 10 min, 9,000 frames,
30 fps, 720p: ``ui.video.media.VideoLimits`` says why; environment variables ``SAM2_VIDEO_MAX_SECONDS``, ``SAM2_VIDEO_MAX_FRAMES``,
``SAM2_VIDEO_MAX_FPS``, ``SAM2_VIDEO_MAX_SIDE`` change them): a larger video is trimmed,
thinned out or downscaled with a warning, not refused.

Its named API endpoints (``ui.video.api``) call the same controller.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any, Dict, List, Optional

import gradio as gr

from ui.tabkit.guard import guarded
from ui.common.progress import progress_adapter
from ui.models.registry import ModelRegistry
from ui.common.errors import ModelUnavailableError, UserError
from ui.common.sessions import connection_of, restore_tab
from ui.tabkit.numbers import ChoiceRadio, NumberBox, NumberSlider
from ui.video.api import PROMPT_GROUP, SEEK_GROUP, WINDOW_GROUP, wire_api
from ui.video.controller import VideoController
from ui.video.view import VideoView
from ui.video.engine import VideoEngine
from ui.video.media import VideoLimits
from ui.video.render import EFFECT_CHOICES
from ui.canvas import (
    END_PREPARING_JS, BoxEvent, CanvasPayloadError, CanvasUpdate, HistoryEvent, IndexEvent, ObjectEvent, PointEvent,
    PromptCanvas, StrokeEvent, UploadEvent, WindowEvent, preparing_for,
)
from sam2.find import DEFAULT_THRESHOLD
from ui.video.find import VideoFind

#: The frame's largest height on the page (see ``ui.image.tab.CANVAS_MAX_HEIGHT``); the
#: player and timeline sit under it.
VIDEO_CANVAS_MAX_HEIGHT = "max(200px, calc(100vh - 450px))"

DIRECTION_CHOICES = [("Forward", "forward"), ("Backward", "backward"), ("Both ways", "both")]

log = logging.getLogger("sam2.app")

#: The example drawn by examples/make_example_video.py comes first (short: fast on a CPU).
FIRST_EXAMPLE = "moving_shapes.mp4"


def example_videos(folder: Optional[str]) -> List[str]:
    if not folder or not os.path.isdir(folder):
        return []
    paths: List[str] = []
    for ext in ("mp4", "mov", "webm", "mkv"):
        paths += glob.glob(os.path.join(folder, f"*.{ext}"))
    return sorted(paths, key=lambda p: (os.path.basename(p) != FIRST_EXAMPLE, os.path.basename(p)))


class VideoTab:
    """Builds the tab inside an open ``gr.Blocks`` and wires it to a controller."""

    def __init__(self, controller: VideoController, examples_dir: Optional[str] = None,
                 concurrency_limit: int = 4, track_concurrency: int = 1, find: Optional[Any] = None) -> None:
        self.controller = controller
        self.find = find  # ui.video.find.VideoFind, or None: no "Find objects" block
        self.examples_dir = examples_dir
        self.concurrency_limit = concurrency_limit
        self.track_concurrency = track_concurrency

    # ------------------------------------------------------------------ layout
    def build(self, model: gr.Dropdown) -> None:
        self.model = model
        limits = self.controller.limits
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                # The frame is the canvas: drop / paste / browse a clip on it, click, right
                # click, drag a box, keys; its player plays the frames and masks held in the
                # browser, its timeline seeks (ui/canvas).
                # Sized so that at 1366x768 the frame, the player, the status line and Track fit
                # the window without scrolling; the buttons come right under the status line.
                self.canvas = PromptCanvas(mode="video", elem_id="video-canvas", max_height=VIDEO_CANVAS_MAX_HEIGHT,
                                           effects=EFFECT_CHOICES)  # live in the player, as in the MP4
                self.status = gr.Markdown(f"Upload a video or pick an example to start ({limits.describe()}).",
                                          elem_id="video-status")
                with gr.Row(equal_height=True, elem_id="video-actions"):
                    self.direction = gr.Radio(DIRECTION_CHOICES, value="both", scale=3, container=False,
                                              label="Track all objects from the current frame",
                                              elem_id="video-direction")
                    self.track_btn = gr.Button("Track", variant="primary", scale=1, min_width=80,
                                               elem_id="video-track")
                    self.cancel_btn = gr.Button("Cancel", variant="stop", scale=1, min_width=80,
                                                elem_id="video-cancel")
                with gr.Row():
                    self.undo_btn = gr.Button("↶ Undo", size="sm", elem_id="video-undo")
                    self.clear_frame_btn = gr.Button("Clear object on this frame", size="sm",
                                                     elem_id="video-clear-frame")
                self.model_note = gr.Markdown(self.model_note_text(), elem_id="video-model-note")
                with gr.Accordion("Prompt by frame number and pixel coordinates", open=False):
                    gr.Markdown("Pixels of the clip (origin top-left), on the frame below (it follows the "
                                "player), for the object id below (a new id creates that object).")
                    with gr.Row():
                        self.fnum = NumberBox(label="Frame", value=0, precision=0, min_width=70,
                                              elem_id="video-frame-number")
                        self.goto_btn = gr.Button("Go to frame", size="sm", elem_id="video-goto")
                    with gr.Row():
                        self.px = NumberBox(label="x", value=0, precision=1, min_width=70)
                        self.py = NumberBox(label="y", value=0, precision=1, min_width=70)
                        self.pfg = gr.Checkbox(label="Foreground", value=True, min_width=80)
                        self.pobj = NumberBox(label="Object id", value=0, precision=0,
                                              min_width=80, elem_id="video-obj-id")
                        self.point_btn = gr.Button("Add point", size="sm")
                    with gr.Row():
                        self.bx0 = NumberBox(label="x0", value=0, precision=1, min_width=60)
                        self.by0 = NumberBox(label="y0", value=0, precision=1, min_width=60)
                        self.bx1 = NumberBox(label="x1", value=0, precision=1, min_width=60)
                        self.by1 = NumberBox(label="y1", value=0, precision=1, min_width=60)
                        self.box_btn = gr.Button("Set box", size="sm")
                self._build_find()
                # For the API only (``/video_load`` takes a file; most endpoints return the
                # frame picture and the frame slider): the page shows the canvas instead.
                self.picture = gr.Image(type="numpy", format="jpeg", interactive=False, visible=False,
                                        elem_id="video-picture")
                self.frame = NumberSlider(0, 1, value=0, step=1, label="Frame", visible=False, elem_id="video-frame")
            with gr.Column(scale=2, min_width=300):
                self.upload = gr.Video(label="Video (mp4, mov, webm, mkv)", sources=["upload"], format=None,
                                       include_audio=True, elem_id="video-upload", visible="hidden")
                examples = example_videos(self.examples_dir)
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[self.upload], cache_examples=False,
                                label="Examples (drawn by examples/make_example_video.py)", elem_id="video-examples")
                gr.Markdown(f"Limits: {limits.describe()}.")
                self.objects = ChoiceRadio([], value=None, label="Objects (click to select)",
                                        elem_id="video-objects")
                self.legend = gr.HTML(elem_id="video-legend")
                with gr.Row(equal_height=True):
                    self.name = gr.Textbox(label="Name", placeholder="e.g. red ball", scale=2, min_width=120,
                                           elem_id="video-obj-name")
                    self.new_obj_btn = gr.Button("+ New object", size="sm", scale=1, elem_id="video-new-object")
                    self.rename_btn = gr.Button("Rename", size="sm", scale=1)
                with gr.Row():
                    self.remove_obj_btn = gr.Button("Delete object", size="sm", elem_id="video-remove-object")
                    self.reset_btn = gr.Button("Start over", size="sm", variant="stop", elem_id="video-reset")
                with gr.Group():
                    self.effect = gr.Dropdown(EFFECT_CHOICES, value="overlay", label="Preview effect",
                                              elem_id="video-effect")
                    self.render_btn = gr.Button("Render preview", elem_id="video-render")
                    self.preview = gr.Video(label="Preview (MP4, for sharing)", interactive=False, format=None,
                                            elem_id="video-preview", height=260)
                    self.export_btn = gr.Button("Prepare downloads", variant="primary", elem_id="video-export")
                    self.files = gr.File(label="MP4 · masks zip (PNGs) · COCO RLE JSON · boxes JSON",
                                         file_count="multiple", interactive=False, elem_id="video-files")
                with gr.Accordion("Session info", open=False):
                    self.info_btn = gr.Button("Refresh", size="sm")
                    self.info = gr.JSON(elem_id="video-info")
        wire_api(self)
        self._wire_canvas()
        self._wire_find()
        self._wire_stale_downloads()

    def model_note_text(self) -> str:
        """One line near the player on which model tracks (empty unless it says something)."""
        return self.controller.model_note()

    # ------------------------------------------------------------------ rendering
    def api_outputs(self) -> List[Any]:
        """What the named API endpoints return (unchanged: frame picture, frame slider,
        objects, legend, status, selected object id)."""
        return [self.picture, self.frame, self.objects, self.legend, self.status, self.pobj]

    def _page_outputs(self) -> List[Any]:
        """What the canvas's gestures update (no frame picture: the browser has the frame)."""
        return [self.canvas, self.objects, self.legend, self.status, self.pobj, self.fnum]

    def render_api(self, view: VideoView, slider: bool = True) -> Dict[Any, Any]:
        out: Dict[Any, Any] = {
            self.picture: view.canvas,
            self.objects: gr.Radio(choices=view.objects, value=view.active_id),
            self.legend: view.legend,
            self.status: view.status,
            self.pobj: view.active_id or 0,
        }
        if slider:
            n = view.num_frames
            out[self.frame] = gr.Slider(minimum=0, maximum=max(1, n - 1), value=view.frame, step=1,
                                        label=f"Frame (0–{max(0, n - 1)})" if n else "Frame")
        return out

    def _render_page(self, view: VideoView, update: Any) -> Dict[Any, Any]:
        return {
            self.canvas: update,
            self.objects: gr.Radio(choices=view.objects, value=view.active_id),
            self.legend: view.legend,
            self.status: view.status,
            self.pobj: view.active_id or 0,
            self.fnum: view.frame,
        }

    # ------------------------------------------------------------------ after a reload
    def restore_outputs(self) -> List[Any]:
        return self._page_outputs()

    def restore(self, sid: Optional[str]) -> Dict[Any, Any]:
        """The clip, frame, objects, prompts and masks the tab showed before the page was
        reloaded: the canvas gets the whole scene again (frames, masks, prompts, timeline)."""
        return restore_tab(self.controller.sessions, sid, self.controller.view,
                           lambda view: self._render_page(view, self.controller.canvas(sid, clip=True)))

    def session_model(self, sid: Optional[str]) -> Optional[str]:
        """The model this tab's session works with (None: no session)."""
        return self.controller.info(sid)["model"] if sid in self.controller.sessions else None

    # ------------------------------------------------------------------ events
    # ------------------------------------------------------------------ the canvas's gestures
    def _wire_canvas(self) -> None:
        """Gestures and keys on the canvas call the same controller functions as the named
        endpoints; they answer the canvas with only what changed (masks and prompts of the
        frame, objects) instead of a re-drawn frame picture."""
        c = self.controller
        page = self._page_outputs()
        # Every gesture counts (trigger_mode="multiple": none is dropped while another is
        # answered); out of the API (gradio_client cannot send event data: the named
        # endpoints with explicit x, y are the API).
        ordered = dict(trigger_mode="multiple", api_visibility="private", concurrency_id=PROMPT_GROUP,
                       concurrency_limit=self.concurrency_limit, show_progress_on=[self.status])

        def answer(sid: Optional[str], act: Any, seq: Optional[int] = None, clip: bool = False,
                   frame: Optional[int] = None, every: bool = False) -> Dict[Any, Any]:
            """Run ``act()`` (a controller call returning a view); a refusal becomes a hint on
            the canvas and the status line (the browser's provisional mark goes). ``frame``: the
            frame the gesture was made on, whose masks and prompts the answer must carry (a seek
            answered meanwhile may have moved the session's current frame). ``every``: the masks
            and prompts of every frame, and the player moves to the view's frame (undo / redo;
            unlike ``clip`` the frames, the zoom and the playback stay)."""
            try:
                view = act()
            except (UserError, CanvasPayloadError, ModelUnavailableError) as exc:
                msg = str(exc)
                out: Dict[Any, Any] = {self.status: f"⚠️ {msg}"}
                if sid in c.sessions:
                    out[self.canvas] = c.canvas(sid, hint=msg, ack=seq)
                else:
                    out[self.canvas] = CanvasUpdate(hint=msg, ack=seq)
                return out
            if every:
                return self._render_page(view, c.canvas(sid, frames="all", frame=view.frame, ack=seq))
            frames = None if frame is None else [int(frame)]
            return self._render_page(view, c.canvas(sid, frames=frames, clip=clip, ack=seq))

        size = lambda sid: c.clip_size(sid)  # noqa: E731 - (width, height) for clamping

        @guarded(self.status)
        def on_point(evt: gr.EventData, request: gr.Request, progress=gr.Progress()):
            sid = connection_of(request)
            p = PointEvent.parse(evt, size(sid))
            return answer(sid, lambda: c.add_point(sid, p.frame, p.x, p.y, p.label == 1, p.object_id or 0,
                                                   progress_adapter(progress)), p.seq, frame=p.frame)

        @guarded(self.status)
        def on_box(evt: gr.EventData, request: gr.Request, progress=gr.Progress()):
            sid = connection_of(request)
            b = BoxEvent.parse(evt, size(sid))
            return answer(sid, lambda: c.add_box(sid, b.frame, b.x0, b.y0, b.x1, b.y1, b.object_id or 0,
                                                 progress_adapter(progress)), b.seq, frame=b.frame)

        @guarded(self.status)
        def on_undo(evt: gr.EventData, request: gr.Request, progress=gr.Progress()):
            sid = connection_of(request)
            o = ObjectEvent.parse(evt)

            def act():
                if o.object_id is not None:
                    c.select_object(sid, o.object_id)
                return c.undo(sid, o.frame, progress_adapter(progress))
            return answer(sid, act, frame=o.frame)

        @guarded(self.status)
        def on_new_object(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)
            return answer(sid, lambda: c.new_object(sid, None))

        @guarded(self.status)
        def on_delete(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)
            o = ObjectEvent.parse(evt)
            return answer(sid, lambda: c.remove_object(sid, o.object_id or 0), clip=True)

        @guarded(self.status)
        def on_select(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)
            o = ObjectEvent.parse(evt)
            if o.object_id is None:
                return {self.status: gr.skip()}
            return answer(sid, lambda: c.select_object(sid, o.object_id))

        @guarded(self.status)
        def on_seek(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)
            if sid not in c.sessions:
                return {self.status: gr.skip()}
            frame, legend, status = c.seek(sid, IndexEvent.parse(evt).index)
            return {self.legend: legend, self.status: status, self.fnum: frame}

        def on_window(evt: gr.EventData, request: gr.Request):
            """Frames and masks near the page's playhead (the page holds a window of the clip)."""
            sid = connection_of(request)
            if sid not in c.sessions:
                return gr.skip()
            try:
                w = WindowEvent.parse(evt)
            except CanvasPayloadError:
                return gr.skip()
            return c.window(sid, w.start, w.end, w.clip_key)

        @guarded(self.status)
        def on_upload(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)
            u = UploadEvent.parse(evt)
            view = c.load(sid, u.path, u.name)
            if view.warning:
                gr.Warning(view.warning)
            # The first frame is encoded next (``prepare``); clicks made meanwhile wait for it.
            return self._render_page(view, c.canvas(sid, clip=True, preparing=preparing_for("the first frame")))

        def no_candidates(evt: gr.EventData):
            return CanvasUpdate(hint="Video objects have one mask: click or drag to refine it")

        @guarded(self.status)
        def on_stroke(evt: gr.EventData, request: gr.Request, progress=gr.Progress()):
            # Brush (B) or eraser (E) on the frame shown: the painted mask becomes the object's
            # mask prompt on that frame (``VideoController.add_stroke``).
            sid = connection_of(request)
            s = StrokeEvent.parse(evt, size(sid))
            return answer(sid, lambda: c.add_stroke(sid, s.frame, s.points, s.radius, s.erase, s.object_id or 0,
                                                    progress_adapter(progress)), s.seq, frame=s.frame)

        @guarded(self.status)
        def on_history(evt: gr.EventData, request: gr.Request, progress=gr.Progress()):
            # Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y: masks of any frame may change, so every frame's go.
            sid = connection_of(request)
            h = HistoryEvent.parse(evt)
            return answer(sid, lambda: c.history(sid, h.step, progress_adapter(progress)), every=True)

        self.canvas.point(on_point, None, page, **ordered)
        self.canvas.box(on_box, None, page, **ordered)
        self.canvas.undo(on_undo, None, page, **ordered)
        self.canvas.new_object(on_new_object, None, page, **ordered)
        self.canvas.delete_object(on_delete, None, page, **ordered)
        self.canvas.select_object(on_select, None, page, **ordered)
        self.canvas.candidate(no_candidates, None, [self.canvas], **ordered)
        self.canvas.stroke(on_stroke, None, page, **ordered)
        self.canvas.history(on_history, None, page, **ordered)
        # Seeks are answered one at a time, in the order they were made (two answered at once
        # could finish in the other order and leave the server on an older frame); each
        # costs a legend and a status line, no picture.
        self.canvas.seek(on_seek, None, [self.legend, self.status, self.fnum], trigger_mode="multiple",
                         api_visibility="private", concurrency_id=SEEK_GROUP, concurrency_limit=1)
        # Windows are answered apart from gestures and seeks (a playing clip asks for the next
        # block while a click is answered), two at a time, none dropped.
        self.canvas.window(on_window, None, [self.canvas], trigger_mode="multiple", api_visibility="private",
                           concurrency_id=WINDOW_GROUP, concurrency_limit=2)
        self.canvas.upload(on_upload, None, page, **ordered).then(
            self.prepare_handler, [self.model], [self.status], api_visibility="private", concurrency_id=PROMPT_GROUP,
            concurrency_limit=self.concurrency_limit).then(
            None, None, [self.canvas], js=END_PREPARING_JS, api_visibility="private")

    # ------------------------------------------------------------------ find objects
    def _build_find(self) -> None:
        """Words in, one new object per box on the frame shown (``ui.video.find``)."""
        if self.find is None:
            return

        reason = self.find.unavailable_reason()
        with gr.Accordion("Find objects on this frame (type what to find)", open=False, elem_id="video-find"):
            if reason is not None:
                gr.Markdown(f"⚠️ {reason}")
            with gr.Row():
                self.find_text = gr.Textbox(label="Find", placeholder="car, person", max_lines=1,
                                            elem_id="video-find-text", scale=3)
                self.find_threshold = NumberSlider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label="Score threshold",
                                                   elem_id="video-find-threshold", scale=2)
                self.find_btn = gr.Button("Find", variant="primary", elem_id="video-find-button", scale=1)

    def _wire_find(self) -> None:
        if self.find is None:
            return
        finder = self.find

        @guarded(self.status)
        def find(frame: float, query: str, threshold: float, request: gr.Request, progress=gr.Progress()):
            return self.render_api(finder.find(connection_of(request), frame, query, threshold, progress_adapter(progress)))

        event = self.endpoints.endpoint(find, [self.fnum, self.find_text, self.find_threshold], "video_find",
                                        on=[self.find_btn.click, self.find_text.submit], sync=dict(frames="all"),
                                        concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit,
                                        show_progress_on=[self.status])
        event.then(None, None, [self.files, self.preview], js="() => [null, null]")  # the downloads are stale

    def _wire_stale_downloads(self) -> None:
        """Offered files and the preview always match the masks: the browser takes them away
        (no server round trip) as soon as anything that changes masks or objects is asked
        for -- a new clip or model, a prompt, a correction, an object added, renamed or
        removed, a reset, a new tracking run (whose preview follows when it ends)."""
        for gesture in (self.canvas.upload, self.canvas.point, self.canvas.box, self.canvas.undo,
                        self.canvas.new_object, self.canvas.delete_object, self.canvas.stroke,
                        self.canvas.history):  # custom events: not for gr.on
            gesture(None, None, [self.files, self.preview], js="() => [null, null]", api_visibility="private")
        changes = [self.upload.change, self.model.input, self.point_btn.click,
                   self.box_btn.click, self.undo_btn.click, self.clear_frame_btn.click, self.new_obj_btn.click,
                   self.rename_btn.click, self.remove_obj_btn.click, self.reset_btn.click, self.track_btn.click]
        gr.on(changes, None, None, [self.files, self.preview], js="() => [null, null]")


def build_video_tab(registry: ModelRegistry, config: Any, model: gr.Dropdown, finder: Optional[Any] = None) -> VideoTab:
    """Add the "Video" tab to the open ``gr.Tabs``; returns it (``.controller``, ``.restore``).

    ``config`` is the app's ``AppConfig`` (examples folder, idle timeout, concurrency, and
    ``video_limits`` if it has one); otherwise limits come from ``VideoLimits.for_device``
    (environment overrides included).
    """
    idle_s = float(getattr(config, "max_idle_minutes", 30.0)) * 60.0
    limits = getattr(config, "video_limits", None) or VideoLimits.for_device(registry.device)
    controller = VideoController(VideoEngine(registry), limits, max_idle_s=idle_s)
    controller.sessions.start_sweeper(interval_s=min(60.0, idle_s))
    on_gpu = registry.device.startswith("cuda")
    tab = VideoTab(controller, getattr(config, "examples_dir", None),
                   concurrency_limit=int(getattr(config, "concurrency_limit", 4)),
                   track_concurrency=2 if on_gpu else 1)
    if finder is not None:  # the process's ui.find.finder.Finder, shared with the image tab

        tab.find = VideoFind(controller, finder)
    with gr.Tab("Video", id="video") as page:
        tab.build(model)
    tab.page = page  # the gr.Tab itself (ui.page remembers which tab was shown)
    return tab


__all__ = ["VideoTab", "build_video_tab", "example_videos"]
