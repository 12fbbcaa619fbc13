"""The video tab's named API endpoints (``gradio_client``).

They are registered through ``ui.tabkit.api_wiring.ApiWiring``, as the image tab's are. Each
hangs on the page control that does the same thing ("Add point" on the page runs
``/video_add_point``; the upload box ``/video_load``), returns the tab's API outputs, and is
followed by the wiring's page-sync step (``sync_canvas_after``: a private step that brings
the canvas and the frame number to the controller's state, so the endpoint keeps its
outputs). ``/video_track`` needs none (``stream_masks`` feeds the canvas while it runs);
``/video_render``, ``/video_export`` and ``/video_info`` return their own outputs;
``/video_find`` is wired with the tab's Find block (``ui.video.tab``).

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
  at the upload's own size, frame rate and sound (docs/exports.md: "How video downloads are made");
  the zip has ``objects/<id>_<name>/<frame>.png`` (0/255) and DAVIS palette PNGs
  ``davis/<frame>.png`` (pixel value = object id); see ``ui/video/exports.py``
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

import logging
from typing import Any, Optional

import gradio as gr

from ui.common.inputs import whole_number
from ui.common.progress import progress_adapter
from ui.common.sessions import connection_of
from ui.tabkit.api_wiring import ApiWiring
from ui.tabkit.guard import guarded

PROMPT_GROUP = "video_prompt"
VIEW_GROUP = "video_view"
TRACK_GROUP = "video_track"
EXPORT_GROUP = "video_export"
CANCEL_GROUP = "video_cancel"
STREAM_GROUP = "video_stream"
SEEK_GROUP = "video_seek"
WINDOW_GROUP = "video_window"

log = logging.getLogger("sam2.app")


def wire_api(tab: Any) -> None:
    """The named endpoints, as ``tab.endpoints`` (an ``ApiWiring``); each action then brings the canvas along."""
    c = tab.controller
    outs = tab.api_outputs()
    prompt_kw = dict(concurrency_id=PROMPT_GROUP, concurrency_limit=tab.concurrency_limit)
    view_kw = dict(concurrency_id=VIEW_GROUP, concurrency_limit=tab.concurrency_limit)
    # One progress indicator per job, on the status line (not one over every output panel).
    export_kw = dict(concurrency_id=EXPORT_GROUP, concurrency_limit=2, show_progress_on=[tab.status])
    private = dict(api_visibility="private")

    @guarded(tab.status)
    def load(path: Optional[str], request: gr.Request):
        if not path:
            return {tab.status: "The clip stays loaded until you upload another video."}
        view = c.load(connection_of(request), path)
        if view.warning:
            gr.Warning(view.warning)
        return tab.render_api(view)

    @guarded(tab.status)
    def prepare(model_id: Optional[str], request: gr.Request, progress=gr.Progress()):
        """Load the video model and encode frame 0 right after an upload."""
        return {tab.status: c.prepare(connection_of(request), model_id, progress_adapter(progress)).status}

    tab.prepare_handler = prepare  # also after an upload on the canvas (``_wire_canvas``)

    @guarded(tab.status, model_toast=False)  # the image tab's handler of the same pick shows it
    def set_model(model_id: str, request: gr.Request, progress=gr.Progress()):
        return tab.render_api(c.set_model(connection_of(request), model_id, progress_adapter(progress)))

    @guarded(tab.status)
    def goto_frame(frame: float, request: gr.Request):
        return tab.render_api(c.show(connection_of(request), frame))

    @guarded(tab.status)
    def add_point(frame: float, x: float, y: float, foreground: bool, obj_id: float, request: gr.Request,
                  progress=gr.Progress()):
        return tab.render_api(c.add_point(connection_of(request), frame, x, y, bool(foreground), obj_id,
                                        progress_adapter(progress)))

    @guarded(tab.status)
    def add_box(frame: float, x0: float, y0: float, x1: float, y1: float, obj_id: float,
                request: gr.Request, progress=gr.Progress()):
        return tab.render_api(c.add_box(connection_of(request), frame, x0, y0, x1, y1, obj_id,
                                      progress_adapter(progress)))

    @guarded(tab.status)
    def undo(frame: float, request: gr.Request, progress=gr.Progress()):
        return tab.render_api(c.undo(connection_of(request), frame, progress_adapter(progress)))

    @guarded(tab.status)
    def clear_frame(frame: float, obj_id: float, request: gr.Request, progress=gr.Progress()):
        return tab.render_api(c.clear_frame(connection_of(request), frame, obj_id, progress_adapter(progress)))

    @guarded(tab.status)
    def new_object(name: Optional[str], request: gr.Request):
        return tab.render_api(c.new_object(connection_of(request), name))

    @guarded(tab.status)
    def select_object(obj_id: Optional[float], request: gr.Request):
        if obj_id is None:
            return {tab.status: gr.skip()}
        return tab.render_api(c.select_object(connection_of(request), obj_id))

    @guarded(tab.status)
    def rename_object(obj_id: float, name: str, request: gr.Request):
        return tab.render_api(c.rename_object(connection_of(request), obj_id, name))

    @guarded(tab.status)
    def remove_object(obj_id: float, request: gr.Request):
        return tab.render_api(c.remove_object(connection_of(request), obj_id))

    @guarded(tab.status)
    def reset(request: gr.Request):
        return tab.render_api(c.clear_all(connection_of(request)))

    @guarded(tab.status)
    def announce(direction: str, frame: float, request: gr.Request):
        """Say at once what the Track button does, and whether it has to wait its turn."""
        sid = connection_of(request)
        c.track_requested(sid)
        busy = c.tracking_elsewhere(sid)
        if busy >= tab.track_concurrency:
            return {tab.status: (f"⏳ {busy} other tab{'s are' if busy > 1 else ' is'} tracking; this run "
                                  "starts when a slot is free (Cancel withdraws it).")}
        return {tab.status: f"Starting to track {direction} from frame {whole_number(frame, 'frame')}..."}

    @guarded(tab.status, generator=True)
    def track(direction: str, frame: float, request: gr.Request, progress=gr.Progress()):
        for view in c.track(connection_of(request), direction, frame, progress_adapter(progress)):
            yield {tab.status: gr.skip()} if view is None else tab.render_api(view)

    def stream_masks(request: gr.Request):
        """The masks of each tracked frame for the canvas, while the run goes on."""
        try:
            yield from c.track_updates(connection_of(request))
        except Exception:  # noqa: BLE001 - the run itself reports its errors
            log.exception("streaming tracked masks to the canvas failed")

    @guarded(tab.status)
    def cancel(request: gr.Request):
        return tab.render_api(c.cancel(connection_of(request)))

    @guarded(tab.status)
    def render(effect: str, request: gr.Request, progress=gr.Progress()):
        path, status = c.render(connection_of(request), effect, progress_adapter(progress))
        return {tab.preview: path, tab.status: status}

    @guarded(tab.status)
    def render_after_track(effect: str, request: gr.Request, progress=gr.Progress()):
        """The preview of a tracking run that just finished (nothing after a refused one)."""
        done = c.render_after_track(connection_of(request), effect, progress_adapter(progress))
        return {tab.status: gr.skip()} if done is None else {tab.preview: done[0], tab.status: done[1]}

    @guarded(tab.status)
    def export(effect: str, request: gr.Request, progress=gr.Progress()):
        paths, status = c.export(connection_of(request), effect, progress_adapter(progress))
        return {tab.files: paths, tab.preview: paths[0], tab.status: status}

    @guarded(tab.status)
    def info(request: gr.Request):
        return {tab.info: c.info(connection_of(request))}

    api = tab.endpoints = ApiWiring(outs, page_sync=lambda event, **how: sync_canvas_after(tab, event, **how))
    load_event = api.endpoint(load, [tab.upload], "video_load", on=tab.upload.change, sync=False, **prompt_kw)
    api.sync(load_event, clip=True).then(prepare, [tab.model], [tab.status], api_visibility="undocumented",
                                         **prompt_kw)
    api.endpoint(set_model, [tab.model], "video_set_model", on=tab.model.input, sync=dict(frames="all"),
                 **prompt_kw)
    api.endpoint(goto_frame, [tab.fnum], "video_show_frame", on=tab.goto_btn.click, **view_kw)
    api.endpoint(add_point, [tab.fnum, tab.px, tab.py, tab.pfg, tab.pobj], "video_add_point",
                 on=tab.point_btn.click, **prompt_kw)
    api.endpoint(add_box, [tab.fnum, tab.bx0, tab.by0, tab.bx1, tab.by1, tab.pobj], "video_add_box",
                 on=tab.box_btn.click, **prompt_kw)
    api.endpoint(undo, [tab.fnum], "video_undo", on=tab.undo_btn.click, **prompt_kw)
    api.endpoint(clear_frame, [tab.fnum, tab.pobj], "video_clear_frame", on=tab.clear_frame_btn.click, **prompt_kw)
    api.endpoint(new_object, [tab.name], "video_new_object", on=tab.new_obj_btn.click, **prompt_kw)
    api.endpoint(select_object, [tab.objects], "video_select_object", on=tab.objects.input, **prompt_kw)
    api.endpoint(rename_object, [tab.pobj, tab.name], "video_rename_object", on=tab.rename_btn.click, **prompt_kw)
    api.endpoint(remove_object, [tab.pobj], "video_remove_object", on=tab.remove_obj_btn.click,
                 sync=dict(clip=True), **prompt_kw)
    api.endpoint(reset, None, "video_reset", on=tab.reset_btn.click, sync=dict(clip=True), **prompt_kw)
    announced = tab.track_btn.click(announce, [tab.direction, tab.fnum], [tab.status],
                                     api_visibility="undocumented", **view_kw)
    # The canvas follows a run through ``stream_masks`` below, not through a sync step.
    track_event = api.endpoint(track, [tab.direction, tab.fnum], "video_track", on=announced.then, sync=False,
                               concurrency_id=TRACK_GROUP, concurrency_limit=tab.track_concurrency,
                               show_progress_on=[tab.status])
    track_event.success(render_after_track, [tab.effect], [tab.preview, tab.status],
                        api_visibility="undocumented", **export_kw)
    # The canvas gets each tracked frame's masks while the run goes on (its own step
    # beside the run, once the request is recorded: the named endpoint keeps its
    # outputs), so the player plays them as they arrive.
    announced.then(stream_masks, None, [tab.canvas], **private,
                   concurrency_id=STREAM_GROUP, concurrency_limit=16)
    api.endpoint(cancel, None, "video_cancel", on=tab.cancel_btn.click, sync=dict(frames="all", busy=""),
                 cancels=[track_event], concurrency_id=CANCEL_GROUP, concurrency_limit=8)
    api.endpoint(render, [tab.effect], "video_render", on=tab.render_btn.click, outputs=[tab.preview, tab.status],
                 **export_kw)
    api.endpoint(export, [tab.effect], "video_export", on=tab.export_btn.click,
                 outputs=[tab.files, tab.preview, tab.status], **export_kw)
    api.endpoint(info, None, "video_info", on=tab.info_btn.click, outputs=[tab.info], **view_kw)


def sync_canvas_after(tab: Any, event: Any, frames: Any = None, clip: bool = False, **kw: Any) -> Any:
    """After an API-named action: bring the canvas (and the frame number) to the
    controller's state, in a step of its own so that the endpoint keeps its outputs."""
    c = tab.controller

    def sync(request: gr.Request):
        sid = connection_of(request)
        if sid not in c.sessions:
            return gr.skip(), gr.skip()
        frame = c.frame_shown(sid)
        extra = dict(kw) if clip else {"frame": frame, **kw}
        return c.canvas(sid, frames, clip, **extra), frame

    return event.then(sync, None, [tab.canvas, tab.fnum], api_visibility="private",
                      concurrency_id=VIEW_GROUP, concurrency_limit=tab.concurrency_limit)
