"""The image tab's named API endpoints (for ``gradio_client``): the same inputs and outputs as
before the page drew on a canvas.

They are registered through ``ui.tabkit.api_wiring.ApiWiring``, as the video tab's are: most
hang on the tab's hidden ``image-api`` button (the page never presses it: its canvas and
buttons have private handlers that answer the canvas with only what changed) and return the
tab's API outputs, drawn by the controller's default renderer (``ui.image.view.ApiRenderer``,
via ``tab.render_api``): the overlay picture, candidate thumbnails, chosen candidate, objects
and status. No page-sync step follows them (no page shows them). ``/export`` and
``/cancel_everything`` hang on the page's own buttons (their outputs are the page's too);
``/find`` and ``/find_boxes_file`` are wired with the tab's Find block (``ui.image.tab``).
"""

from __future__ import annotations

from typing import Any, Optional

import gradio as gr

from ui.tabkit.api_wiring import ApiWiring
from ui.tabkit.guard import guarded
from ui.common.progress import progress_adapter
from ui.common.sessions import connection_of

EVERYTHING_GROUP = "image_everything"


def wire_api(tab: Any) -> None:
    """The named endpoints, as before the canvas: same inputs, same outputs (``ImageView``)."""
    c = tab.controller
    views = tab.api_outputs()
    prompt_kw = tab.prompt_kw()

    @guarded(tab.status)
    def load_image(path: Optional[str], request: gr.Request):
        sid = connection_of(request)
        if not path:
            return tab.render_api(c.unload(sid))
        return tab.render_api(c.load(sid, path))

    @guarded(tab.status)
    def set_model(model_id: str, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        return tab.render_api(c.set_model(connection_of(request), model_id, progress_adapter(progress)))

    @guarded(tab.status)
    def add_point(x: float, y: float, foreground: bool, request: gr.Request,
                  progress=gr.Progress(track_tqdm=True)):
        return tab.render_api(c.add_point(connection_of(request), x, y, bool(foreground), progress_adapter(progress)))

    @guarded(tab.status)
    def add_box(x0: float, y0: float, x1: float, y1: float, request: gr.Request,
                progress=gr.Progress(track_tqdm=True)):
        return tab.render_api(c.add_box(connection_of(request), x0, y0, x1, y1, progress_adapter(progress)))

    @guarded(tab.status)
    def undo(request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        return tab.render_api(c.undo(connection_of(request), progress_adapter(progress)))

    @guarded(tab.status)
    def refine(request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        return tab.render_api(c.refine(connection_of(request), progress_adapter(progress)))

    @guarded(tab.status)
    def clear(request: gr.Request):
        return tab.render_api(c.clear_all(connection_of(request)))

    @guarded(tab.status)
    def pick_candidate(index: Optional[int], request: gr.Request):
        return tab.render_api(c.choose(connection_of(request), index))

    @guarded(tab.status)
    def new_object(request: gr.Request):
        return tab.render_api(c.new_object(connection_of(request)))

    @guarded(tab.status)
    def select_object(index: Optional[int], request: gr.Request):
        sid = connection_of(request)
        return tab.render_api(c.select_object(sid, c.object_id_at(sid, index)))

    @guarded(tab.status)
    def remove_object(request: gr.Request):
        return tab.render_api(c.remove_object(connection_of(request)))

    @guarded(tab.status)
    def rename_object(name: str, request: gr.Request):
        return tab.render_api(c.rename_object(connection_of(request), name))

    @guarded(tab.status)
    def export(request: gr.Request):
        paths = c.export(connection_of(request))
        return {tab.files: paths, tab.status: f"{len(paths)} files ready to download."}

    @guarded(tab.everything_status)
    def cancel_everything(request: gr.Request):
        return {tab.everything_status: c.cancel_everything(connection_of(request))}

    api = tab.endpoints = ApiWiring(views, trigger=tab.api_button.click)
    api.endpoint(load_image, [tab.upload], "load_image", concurrency_limit=tab.concurrency_limit)
    api.endpoint(set_model, [tab.model], "set_model", **prompt_kw)
    api.endpoint(add_point, [tab.px, tab.py, tab.pfg], "add_point", **prompt_kw)
    api.endpoint(add_box, [tab.bx0, tab.by0, tab.bx1, tab.by1], "add_box", **prompt_kw)
    api.endpoint(undo, None, "undo", **prompt_kw)
    api.endpoint(refine, None, "refine", **prompt_kw)
    api.endpoint(clear, None, "clear", **prompt_kw)
    api.endpoint(pick_candidate, [tab.candidate], "pick_candidate", **prompt_kw)
    api.endpoint(new_object, None, "new_object", **prompt_kw)
    api.endpoint(select_object, [tab.objects], "select_object", **prompt_kw)
    api.endpoint(remove_object, None, "remove_object", **prompt_kw)
    api.endpoint(rename_object, [tab.name], "rename_object", **prompt_kw)
    api.endpoint(export, None, "export", on=tab.export_btn.click, outputs=[tab.files, tab.status], **prompt_kw)
    everything_event = api.endpoint(
        tab.everything_handler(c, lambda view: {
            tab.everything_canvas: view.canvas, tab.everything_status: view.status,
            tab.everything_file: view.json_path}),
        tab.everything_inputs(), "segment_everything",
        outputs=[tab.everything_canvas, tab.everything_status, tab.everything_file],
        concurrency_id=EVERYTHING_GROUP, concurrency_limit=1,
    )
    tab.api_everything = everything_event
    tab.cancel_everything = cancel_everything
