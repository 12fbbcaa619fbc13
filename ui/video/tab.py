"""The "Video" tab: components and event wiring only; behaviour lives in ``VideoController``.

The frame is a ``PromptCanvas(mode="video")``: upload by drop / paste / browse on it, the same
gestures and keys as the image tab, a player that plays the frames and masks held in the
browser, and a timeline. Its gestures call the same controller functions as the named
endpoints below; those keep their outputs, and a private step after each brings the canvas
to the new state.

Upload a clip (or pick an example), click on objects in any frame, track them forward,
backward or both ways, correct any frame and track again, then download the results.
Uploads are bounded (CPU: 10 s, 150 frames, 15 fps, 480p; CUDA: 30 s, 600 frames, 30 fps,
720p; environment variables ``SAM2_VIDEO_MAX_SECONDS``, ``SAM2_VIDEO_MAX_FRAMES``,
``SAM2_VIDEO_MAX_FPS``, ``SAM2_VIDEO_MAX_SIDE`` change them): a larger video is trimmed,
thinned out or downscaled with a warning, not refused.

Named API endpoints (``gradio_client``; each ``Client`` is one session, so the clip loaded by
``/video_load`` stays for the calls that follow). Coordinates are pixels of the clip as the
app works on it — after any downscaling, see ``/video_info`` ``width`` and ``height`` —
origin top-left; frames are numbered from 0 after any frame-rate reduction. Object ids are
integers 1-255; a prompt for a new id creates that object, 0 means the selected object.
Most endpoints return ``(frame image, frame slider, objects, legend HTML, status text,
selected object id)``; the frame image is for the API (the page shows the canvas instead; clips under 640 px are
enlarged), the downloads have the clip's size. Mistakes (a frame outside the clip, a point outside
the frame, tracking with no objects, an unreadable file) come back as a status text
starting with ⚠️, not as an error.

* ``/video_load(video)``: read an upload (mp4, mov, webm, mkv, ...) within the limits
* ``/video_set_model(model)``: Hugging Face id or short name, as on the image tab; the
  prompts are applied again with the new model
* ``/video_show_frame(frame)``
* ``/video_add_point(frame, x, y, foreground, obj_id)``; ``/video_add_box(frame, x0, y0, x1, y1, obj_id)``
  — the returned image shows that frame's masks at once
* ``/video_undo(frame)`` (the selected object's newest prompt there, a box included),
  ``/video_clear_frame(frame, obj_id)`` (one object's prompts and mask on one frame)
* ``/video_new_object(name)``, ``/video_select_object(obj_id)``, ``/video_rename_object(obj_id, name)``,
  ``/video_remove_object(obj_id)``, ``/video_reset`` (start over, same clip)
* ``/video_track(direction, frame)``: ``"forward"``, ``"backward"`` or ``"both"`` from ``frame``;
  a generator that streams tracked frames (``job.status().progress_data`` has the
  progress); ``job.cancel()`` or ``/video_cancel`` stops it after the frame in progress
  and keeps what is done. Prompts can be added and corrected after a run (a correction
  on a tracked frame stays a conditioning frame); track again to update the other frames.
* ``/video_find(frame, query, threshold)``: "car, person" on one frame -> one new object per
  box found (named "car 1", "car 2", ...; prompted with its box there), then ``/video_track``
* ``/video_render(effect)`` -> (preview MP4, status); effects: ``overlay``, ``highlight``,
  ``cutout``, ``blur``, ``pixelate``, ``erase``
* ``/video_export(effect)`` -> ([MP4, masks zip, COCO RLE JSON, boxes JSON], preview, status),
  at the upload's own size, frame rate and sound (README: "How video downloads are made");
  the zip has ``objects/<id>_<name>/<frame>.png`` (0/255) and DAVIS palette PNGs
  ``davis/<frame>.png`` (pixel value = object id); see ``ui/video_exports.py``
* ``/video_info`` -> JSON: clip size and fps (and the upload's), limits and the notes of
  what they changed, objects with their prompted frames, tracked frames

Example (``python app.py`` running; tracking the 20-frame example takes a few minutes on
a CPU)::

    from gradio_client import Client, handle_file

    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("examples/moving_shapes.mp4"), api_name="/video_load")
    client.predict(0, 40, 145, True, 1, api_name="/video_add_point")    # the ball, on frame 0
    client.predict(10, 190, 115, True, 2, api_name="/video_add_point")  # the square, on frame 10
    client.predict("both", 10, api_name="/video_track")                 # returns when done
    files, preview, status = client.predict("overlay", api_name="/video_export")
    print(status, files)  # MP4, masks zip, COCO JSON, boxes JSON
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any, Dict, List, Optional

import gradio as gr

from ui.common.errors import guarded
from ui.common.progress import progress_adapter
from ui.common.inputs import whole_number
from ui.models.registry import ModelRegistry, ModelUnavailableError
from ui.common.sessions import connection_of, restore_tab
from ui.tabkit.numbers import NumberBox, NumberSlider
from ui.video.controller import VideoController
from ui.video.view import VideoView
from ui.video.engine import VideoEngine
from ui.video.media import VideoLimits
from ui.video.render import EFFECT_CHOICES
from ui.canvas import (
    END_PREPARING_JS, BoxEvent, CanvasPayloadError, CanvasUpdate, IndexEvent, ObjectEvent, PointEvent, PromptCanvas,
    UploadEvent, preparing_for,
)
from ui.common.prompts import PromptError
DIRECTION_CHOICES = [("Forward", "forward"), ("Backward", "backward"), ("Both ways", "both")]
PROMPT_GROUP = "video_prompt"
VIEW_GROUP = "video_view"
TRACK_GROUP = "video_track"
EXPORT_GROUP = "video_export"
CANCEL_GROUP = "video_cancel"
STREAM_GROUP = "video_stream"
SEEK_GROUP = "video_seek"

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
                self.canvas = PromptCanvas(mode="video", elem_id="video-canvas", max_height="65vh",
                                           effects=EFFECT_CHOICES)  # live in the player, as in the MP4
                self.model_note = gr.Markdown(self.model_note_text(), elem_id="video-model-note")
                self.status = gr.Markdown(f"Upload a video or pick an example to start ({limits.describe()}).",
                                          elem_id="video-status")
                with gr.Row():
                    self.undo_btn = gr.Button("↶ Undo", size="sm", elem_id="video-undo")
                    self.clear_frame_btn = gr.Button("Clear object on this frame", size="sm",
                                                     elem_id="video-clear-frame")
                with gr.Group():
                    with gr.Row(equal_height=True):
                        self.direction = gr.Radio(DIRECTION_CHOICES, value="both", scale=3,
                                                  label="Track all objects from the current frame",
                                                  elem_id="video-direction")
                        self.track_btn = gr.Button("Track", variant="primary", scale=1, elem_id="video-track")
                        self.cancel_btn = gr.Button("Cancel", variant="stop", scale=1, elem_id="video-cancel")
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
                self.objects = gr.Radio([], value=None, label="Objects (click to select)",
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
        self._wire()

    def model_note_text(self) -> str:
        """One line near the player on which model tracks (empty unless it says something)."""
        return self.controller.model_note()

    # ------------------------------------------------------------------ rendering
    def _outputs(self) -> List[Any]:
        """What the named API endpoints return (unchanged: frame picture, frame slider,
        objects, legend, status, selected object id)."""
        return [self.picture, self.frame, self.objects, self.legend, self.status, self.pobj]

    def _page_outputs(self) -> List[Any]:
        """What the canvas's gestures update (no frame picture: the browser has the frame)."""
        return [self.canvas, self.objects, self.legend, self.status, self.pobj, self.fnum]

    def _render(self, view: VideoView, slider: bool = True) -> Dict[Any, Any]:
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
    def _wire(self) -> None:
        c = self.controller
        outs = self._outputs()
        prompt_kw = dict(concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)
        view_kw = dict(concurrency_id=VIEW_GROUP, concurrency_limit=self.concurrency_limit)
        export_kw = dict(concurrency_id=EXPORT_GROUP, concurrency_limit=2)
        private = dict(api_visibility="private")

        @guarded(self.status)
        def load(path: Optional[str], request: gr.Request):
            if not path:
                return {self.status: "The clip stays loaded until you upload another video."}
            view = c.load(connection_of(request), path)
            if view.warning:
                gr.Warning(view.warning)
            return self._render(view)

        @guarded(self.status)
        def prepare(model_id: Optional[str], request: gr.Request, progress=gr.Progress()):
            """Load the video model and encode frame 0 right after an upload."""
            return {self.status: c.prepare(connection_of(request), model_id, progress_adapter(progress)).status}

        self._prepare = prepare  # also after an upload on the canvas (``_wire_canvas``)

        @guarded(self.status, model_toast=False)  # the image tab's handler of the same pick shows it
        def set_model(model_id: str, request: gr.Request, progress=gr.Progress()):
            return self._render(c.set_model(connection_of(request), model_id, progress_adapter(progress)))

        @guarded(self.status)
        def goto_frame(frame: float, request: gr.Request):
            return self._render(c.show(connection_of(request), frame))

        @guarded(self.status)
        def add_point(frame: float, x: float, y: float, foreground: bool, obj_id: float, request: gr.Request,
                      progress=gr.Progress()):
            return self._render(c.add_point(connection_of(request), frame, x, y, bool(foreground), obj_id,
                                            progress_adapter(progress)))

        @guarded(self.status)
        def add_box(frame: float, x0: float, y0: float, x1: float, y1: float, obj_id: float,
                    request: gr.Request, progress=gr.Progress()):
            return self._render(c.add_box(connection_of(request), frame, x0, y0, x1, y1, obj_id,
                                          progress_adapter(progress)))

        @guarded(self.status)
        def undo(frame: float, request: gr.Request, progress=gr.Progress()):
            return self._render(c.undo(connection_of(request), frame, progress_adapter(progress)))

        @guarded(self.status)
        def clear_frame(frame: float, obj_id: float, request: gr.Request, progress=gr.Progress()):
            return self._render(c.clear_frame(connection_of(request), frame, obj_id, progress_adapter(progress)))

        @guarded(self.status)
        def new_object(name: Optional[str], request: gr.Request):
            return self._render(c.new_object(connection_of(request), name))

        @guarded(self.status)
        def select_object(obj_id: Optional[float], request: gr.Request):
            if obj_id is None:
                return {self.status: gr.skip()}
            return self._render(c.select_object(connection_of(request), obj_id))

        @guarded(self.status)
        def rename_object(obj_id: float, name: str, request: gr.Request):
            return self._render(c.rename_object(connection_of(request), obj_id, name))

        @guarded(self.status)
        def remove_object(obj_id: float, request: gr.Request):
            return self._render(c.remove_object(connection_of(request), obj_id))

        @guarded(self.status)
        def reset(request: gr.Request):
            return self._render(c.reset(connection_of(request)))

        @guarded(self.status)
        def announce(direction: str, frame: float, request: gr.Request):
            """Say at once what the Track button does, and whether it has to wait its turn."""
            sid = connection_of(request)
            c.track_requested(sid)
            busy = c.tracking_elsewhere(sid)
            if busy >= self.track_concurrency:
                return {self.status: (f"⏳ {busy} other tab{'s are' if busy > 1 else ' is'} tracking; this run "
                                      "starts when a slot is free (Cancel withdraws it).")}
            return {self.status: f"Starting to track {direction} from frame {whole_number(frame, 'frame')}..."}

        @guarded(self.status, generator=True)
        def track(direction: str, frame: float, request: gr.Request, progress=gr.Progress()):
            for view in c.track(connection_of(request), direction, frame, progress_adapter(progress)):
                yield {self.status: gr.skip()} if view is None else self._render(view)

        def stream_masks(request: gr.Request):
            """The masks of each tracked frame for the canvas, while the run goes on."""
            try:
                yield from c.track_updates(connection_of(request))
            except Exception:  # noqa: BLE001 - the run itself reports its errors
                log.exception("streaming tracked masks to the canvas failed")

        @guarded(self.status)
        def cancel(request: gr.Request):
            return self._render(c.cancel(connection_of(request)))

        @guarded(self.status)
        def render(effect: str, request: gr.Request, progress=gr.Progress()):
            path, status = c.render(connection_of(request), effect, progress_adapter(progress))
            return {self.preview: path, self.status: status}

        @guarded(self.status)
        def render_after_track(effect: str, request: gr.Request, progress=gr.Progress()):
            """The preview of a tracking run that just finished (nothing after a refused one)."""
            done = c.render_after_track(connection_of(request), effect, progress_adapter(progress))
            return {self.status: gr.skip()} if done is None else {self.preview: done[0], self.status: done[1]}

        @guarded(self.status)
        def export(effect: str, request: gr.Request, progress=gr.Progress()):
            paths, status = c.export(connection_of(request), effect, progress_adapter(progress))
            return {self.files: paths, self.preview: paths[0], self.status: status}

        @guarded(self.status)
        def info(request: gr.Request):
            return {self.info: c.info(connection_of(request))}

        then_sync = self._then_sync

        load_event = self.upload.change(load, [self.upload], outs, api_name="video_load", **prompt_kw)
        then_sync(load_event, clip=True).then(prepare, [self.model], [self.status], api_visibility="undocumented",
                                              **prompt_kw)
        then_sync(self.model.input(set_model, [self.model], outs, api_name="video_set_model", **prompt_kw), "all")
        then_sync(self.goto_btn.click(goto_frame, [self.fnum], outs, api_name="video_show_frame", **view_kw))
        then_sync(self.point_btn.click(add_point, [self.fnum, self.px, self.py, self.pfg, self.pobj], outs,
                                       api_name="video_add_point", **prompt_kw))
        then_sync(self.box_btn.click(add_box, [self.fnum, self.bx0, self.by0, self.bx1, self.by1, self.pobj], outs,
                                     api_name="video_add_box", **prompt_kw))
        then_sync(self.undo_btn.click(undo, [self.fnum], outs, api_name="video_undo", **prompt_kw))
        then_sync(self.clear_frame_btn.click(clear_frame, [self.fnum, self.pobj], outs, api_name="video_clear_frame",
                                             **prompt_kw))
        then_sync(self.new_obj_btn.click(new_object, [self.name], outs, api_name="video_new_object", **prompt_kw))
        then_sync(self.objects.input(select_object, [self.objects], outs, api_name="video_select_object",
                                     **prompt_kw))
        then_sync(self.rename_btn.click(rename_object, [self.pobj, self.name], outs, api_name="video_rename_object",
                                        **prompt_kw))
        then_sync(self.remove_obj_btn.click(remove_object, [self.pobj], outs, api_name="video_remove_object",
                                            **prompt_kw), clip=True)
        then_sync(self.reset_btn.click(reset, None, outs, api_name="video_reset", **prompt_kw), clip=True)
        announced = self.track_btn.click(announce, [self.direction, self.fnum], [self.status],
                                         api_visibility="undocumented", **view_kw)
        track_event = announced.then(track, [self.direction, self.fnum], outs, api_name="video_track",
                                     concurrency_id=TRACK_GROUP, concurrency_limit=self.track_concurrency)
        track_event.success(render_after_track, [self.effect], [self.preview, self.status],
                            api_visibility="undocumented", **export_kw)
        # The canvas gets each tracked frame's masks while the run goes on (its own step
        # beside the run, once the request is recorded: the named endpoint keeps its
        # outputs), so the player plays them as they arrive.
        announced.then(stream_masks, None, [self.canvas], **private,
                       concurrency_id=STREAM_GROUP, concurrency_limit=16)
        then_sync(self.cancel_btn.click(cancel, None, outs, api_name="video_cancel", cancels=[track_event],
                                        concurrency_id=CANCEL_GROUP, concurrency_limit=8), "all", busy="")
        self.render_btn.click(render, [self.effect], [self.preview, self.status], api_name="video_render",
                              **export_kw)
        self.export_btn.click(export, [self.effect], [self.files, self.preview, self.status],
                              api_name="video_export", **export_kw)
        self.info_btn.click(info, None, [self.info], api_name="video_info", **view_kw)
        self._wire_canvas()
        self._wire_find()
        self._wire_stale_downloads()

    def _then_sync(self, event: Any, frames: Any = None, clip: bool = False, **kw: Any) -> Any:
        """After an API-named action: bring the canvas (and the frame number) to the
        controller's state, in a step of its own so that the endpoint keeps its outputs."""
        c = self.controller

        def sync(request: gr.Request):
            sid = connection_of(request)
            if sid not in c.sessions:
                return gr.skip(), gr.skip()
            frame = c.frame_shown(sid)
            extra = dict(kw) if clip else {"frame": frame, **kw}
            return c.canvas(sid, frames, clip, **extra), frame

        return event.then(sync, None, [self.canvas, self.fnum], api_visibility="private",
                          concurrency_id=VIEW_GROUP, concurrency_limit=self.concurrency_limit)

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
                       concurrency_limit=self.concurrency_limit)

        def answer(sid: Optional[str], act: Any, seq: Optional[int] = None, clip: bool = False,
                   frame: Optional[int] = None) -> Dict[Any, Any]:
            """Run ``act()`` (a controller call returning a view); a refusal becomes a hint on
            the canvas and the status line (the browser's provisional mark goes). ``frame``: the
            frame the gesture was made on, whose masks and prompts the answer must carry (a seek
            answered meanwhile may have moved the session's current frame)."""
            try:
                view = act()
            except (PromptError, CanvasPayloadError, ModelUnavailableError) as exc:
                msg = str(exc)
                out: Dict[Any, Any] = {self.status: f"⚠️ {msg}"}
                if sid in c.sessions:
                    out[self.canvas] = c.canvas(sid, hint=msg, ack=seq)
                else:
                    out[self.canvas] = CanvasUpdate(hint=msg, ack=seq)
                return out
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

        def no_history(evt: gr.EventData):
            return CanvasUpdate(hint="Ctrl+Z over every change works on the Image tab for now; Z undoes the last "
                                     "prompt here")

        def no_strokes(evt: gr.EventData):
            data = getattr(evt, "_data", None) or {}
            seq = data.get("seq") if isinstance(data.get("seq"), int) else None
            return CanvasUpdate(hint="The brush works on the Image tab for now: click or drag to correct a video mask",
                                ack=seq)

        self.canvas.point(on_point, None, page, **ordered)
        self.canvas.box(on_box, None, page, **ordered)
        self.canvas.undo(on_undo, None, page, **ordered)
        self.canvas.new_object(on_new_object, None, page, **ordered)
        self.canvas.delete_object(on_delete, None, page, **ordered)
        self.canvas.select_object(on_select, None, page, **ordered)
        self.canvas.candidate(no_candidates, None, [self.canvas], **ordered)
        self.canvas.stroke(no_strokes, None, [self.canvas], **ordered)
        self.canvas.history(no_history, None, [self.canvas], **ordered)
        # Seeks are answered one at a time, in the order they were made (two answered at once
        # could finish in the other order and leave the server on an older frame); each
        # costs a legend and a status line, no picture.
        self.canvas.seek(on_seek, None, [self.legend, self.status, self.fnum], trigger_mode="multiple",
                         api_visibility="private", concurrency_id=SEEK_GROUP, concurrency_limit=1)
        self.canvas.upload(on_upload, None, page, **ordered).then(
            self._prepare, [self.model], [self.status], api_visibility="private", concurrency_id=PROMPT_GROUP,
            concurrency_limit=self.concurrency_limit).then(
            None, None, [self.canvas], js=END_PREPARING_JS, api_visibility="private")

    # ------------------------------------------------------------------ find objects
    def _build_find(self) -> None:
        """Words in, one new object per box on the frame shown (``ui.video.find``)."""
        if self.find is None:
            return
        from sam2.find import DEFAULT_THRESHOLD

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
            return self._render(finder.find(connection_of(request), frame, query, threshold, progress_adapter(progress)))

        event = gr.on([self.find_btn.click, self.find_text.submit], find,
                      [self.fnum, self.find_text, self.find_threshold], self._outputs(), api_name="video_find",
                      concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)
        event.then(None, None, [self.files, self.preview], js="() => [null, null]")  # the downloads are stale
        self._then_sync(event, "all")

    def _wire_stale_downloads(self) -> None:
        """Offered files and the preview always match the masks: the browser takes them away
        (no server round trip) as soon as anything that changes masks or objects is asked
        for -- a new clip or model, a prompt, a correction, an object added, renamed or
        removed, a reset, a new tracking run (whose preview follows when it ends)."""
        for gesture in (self.canvas.upload, self.canvas.point, self.canvas.box, self.canvas.undo,
                        self.canvas.new_object, self.canvas.delete_object):  # custom events: not for gr.on
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
        from ui.video.find import VideoFind

        tab.find = VideoFind(controller, finder)
    with gr.Tab("Video", id="video"):
        tab.build(model)
    return tab


__all__ = ["VideoTab", "build_video_tab", "example_videos"]
