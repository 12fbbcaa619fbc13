"""The image tab's named API endpoints (for ``gradio_client``), wired onto the tab's hidden
``image-api`` button: the same inputs and outputs as before the page drew on a canvas.

They call the tab's controller with its default renderer (``ui.image.view.ApiRenderer``), so
``/add_point`` and friends still return the overlay picture, candidate thumbnails, chosen
candidate, objects and status; ``/export`` and ``/cancel_everything`` hang on the page's own
buttons (their outputs are the page's too). The page's gestures call the same controller
methods (``ui.image.tab``).
"""

from __future__ import annotations

from typing import Any, Optional

import gradio as gr

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

    api = tab.api
    api.click(load_image, [tab.upload], views, api_name="load_image", concurrency_limit=tab.concurrency_limit)
    api.click(set_model, [tab.model], views, api_name="set_model", **prompt_kw)
    api.click(add_point, [tab.px, tab.py, tab.pfg], views, api_name="add_point", **prompt_kw)
    api.click(add_box, [tab.bx0, tab.by0, tab.bx1, tab.by1], views, api_name="add_box", **prompt_kw)
    api.click(undo, None, views, api_name="undo", **prompt_kw)
    api.click(refine, None, views, api_name="refine", **prompt_kw)
    api.click(clear, None, views, api_name="clear", **prompt_kw)
    api.click(pick_candidate, [tab.candidate], views, api_name="pick_candidate", **prompt_kw)
    api.click(new_object, None, views, api_name="new_object", **prompt_kw)
    api.click(select_object, [tab.objects], views, api_name="select_object", **prompt_kw)
    api.click(remove_object, None, views, api_name="remove_object", **prompt_kw)
    api.click(rename_object, [tab.name], views, api_name="rename_object", **prompt_kw)
    tab.export_btn.click(export, None, [tab.files, tab.status], api_name="export", **prompt_kw)
    everything_event = api.click(
        tab.everything_handler(c, lambda view: {
            tab.everything_canvas: view.canvas, tab.everything_status: view.status,
            tab.everything_file: view.json_path}),
        tab.everything_inputs(),
        [tab.everything_canvas, tab.everything_status, tab.everything_file],
        api_name="segment_everything", concurrency_id=EVERYTHING_GROUP, concurrency_limit=1,
    )
    tab.api_everything = everything_event
    tab.cancel_everything = cancel_everything
