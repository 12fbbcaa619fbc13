"""The "Image" tab: components and event wiring only; behaviour lives in ``ImageController``.

The picture is a ``PromptCanvas`` (``ui.canvas``): drop / paste / browse an image on it,
left click = foreground point, right click / Shift+click / long press = background point,
drag = box, keys for undo, new object, candidates, delete and stepping through objects.
Its gestures call the same controller methods as the named endpoints below, through a
controller that renders ``CanvasView``s (only what changed travels per click).

The named endpoints keep their inputs and outputs; they are registered through
``ui.tabkit.api_wiring.ApiWiring`` (as the video tab's are), most on a hidden button
(``image-api``), and return the overlay picture, candidate thumbnails, chosen candidate,
objects and status as before (``ImageView``), which the page itself no longer shows.

Named API endpoints (for ``gradio_client``; each ``Client`` is one session, so the image
loaded by ``/load_image`` stays for the following calls):

* ``/load_image(image)``, ``/set_model(model)``
* ``/add_point(x, y, foreground)`` and ``/add_box(x0, y0, x1, y1)`` in original-image pixels
* ``/undo``, ``/clear``, ``/refine``, ``/pick_candidate(index)``, ``/new_object``,
  ``/select_object(index)``, ``/remove_object``, ``/rename_object(name)`` (the selected one)
* ``/export`` -> [mask PNG, RGBA cutout PNG, COCO RLE JSON, per-object PNG zip, (label PNG)]
* ``/segment_everything(points_per_side, pred_iou_thresh, stability_score_thresh,
  box_nms_thresh, crop_n_layers, min_mask_region_area)``: streams "batch i of n" progress;
  settings above the server's budget are reduced (the status says so)
* ``/cancel_everything``: stops this session's segment everything within a batch
* ``/find(query, threshold)``: "car, person" -> one object per box found (label and score
  kept on it); ``/find_boxes_file(file, threshold)``: the same from a COCO detections ``.json`` or a
  YOLO ``.txt`` (class numbers as labels)
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import gradio as gr

from ui.canvas import (
    END_PREPARING_JS, SHOW_PREPARING_JS, BoxEvent, CanvasPayloadError, CanvasUpdate, HistoryEvent, IndexEvent,
    ObjectEvent, PointEvent, PromptCanvas, StrokeEvent, UploadEvent, preparing_for,
)
from ui.tabkit.guard import guarded
from ui.common.progress import progress_adapter
from ui.image.controller import ImageController
from ui.image.view import CanvasRenderer, CanvasView, ImageView, everything_regions
from ui.common.errors import ModelUnavailableError, UserError
from ui.image.engine import ENCODE_PROMPTS, EverythingParams
from ui.common.inputs import number, whole_number
from ui.image.api import EVERYTHING_GROUP, wire_api
from ui.image.find import ImageFind
from ui.tabkit.model_dropdown import dropdown_update
from ui.tabkit.numbers import ChoiceRadio, NumberBox, NumberSlider
from ui.canvas.raster import MAX_DISPLAY_SIDE
from ui.common.sessions import connection_of, restore_tab
from sam2.find import DEFAULT_THRESHOLD
from sam2.media.images import SUPPORTED_FORMATS, ImageLoadError, check_image_kind
from ui.canvas.gradio_stubs import skip_stub_files

skip_stub_files()  # before the class statements: no tab.pyi beside this file

CANDIDATE_CHOICES = [("Mask 1", 0), ("Mask 2", 1), ("Mask 3", 2)]
PROMPT_GROUP = "image_prompt"



class SafeImage(gr.Image):
    """``gr.Image`` whose upload step reports unreadable files as a message, not a traceback.

    With ``type="filepath"`` and ``image_mode=None`` Gradio hands over the uploaded file
    untouched (so our own loader applies its grayscale / 16-bit / CMYK rules), but it still
    opens the file once with PIL and fails with a bare exception on non-images.
    """

    @classmethod
    def get_block_name(cls) -> str:
        return "image"

    def preprocess(self, payload: Any) -> Any:

        name = getattr(payload, "orig_name", None) or "the file"
        path = getattr(payload, "path", None)
        try:
            if path:
                check_image_kind(path, name)  # SVG, PDF, text...: refused by name, before PIL
            return super().preprocess(payload)
        except gr.Error:
            raise
        except ImageLoadError as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "not an image"
            raise gr.Error(
                f"Could not read {name} as an image ({type(exc).__name__}). "
                f"Please upload a {SUPPORTED_FORMATS} file."
            ) from None


def example_images(folder: str) -> List[str]:
    paths: List[str] = []
    for ext in ("png", "jpg", "jpeg", "webp"):
        paths += glob.glob(os.path.join(folder, f"*.{ext}"))
    return sorted(paths)


#: The picture's largest height on the page: the window less what sits above and below it.
CANVAS_MAX_HEIGHT = "max(240px, calc(100vh - 410px))"


@dataclass
class EverythingDefaults:
    points_per_side: int = 32


class ImageTab:
    """Builds the tab inside an open ``gr.Blocks`` and wires it to a controller."""

    def __init__(self, controller: ImageController, examples_dir: Optional[str] = None,
                 everything_defaults: EverythingDefaults = EverythingDefaults(),
                 concurrency_limit: int = 4, find: Optional[ImageFind] = None) -> None:
        self.controller = controller
        # The page's canvas gets changes only; the API endpoints keep the overlay picture.
        self.ui = controller.rendering(CanvasRenderer(controller.engine.registry))
        self.find = find  # None: no "Find objects" block
        self.ui_find = ImageFind(self.ui, find.finder) if find is not None else None  # results on the canvas
        self.examples_dir = examples_dir
        self.everything_defaults = everything_defaults
        self.concurrency_limit = concurrency_limit

    # ------------------------------------------------------------------ layout
    def build(self, model: gr.Dropdown) -> None:
        self.model = model
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                # Sized so that at 1366x768 the picture, its status line and the buttons under
                # it fit the window without scrolling (the header and tabs take ~190 px).
                self.canvas = PromptCanvas(mode="image", elem_id="image-canvas", max_height=CANVAS_MAX_HEIGHT)
                with gr.Row():
                    self.undo_btn = gr.Button("↶ Undo (Z)", size="sm", elem_id="image-undo", min_width=60)
                    self.refine_btn = gr.Button("Refine", size="sm", elem_id="image-refine", min_width=60)
                    self.new_obj_btn = gr.Button("+ New object (N)", size="sm", elem_id="image-new-object",
                                                 min_width=60)
                    self.remove_obj_btn = gr.Button("Delete object (Del)", size="sm", elem_id="image-remove-object",
                                                    min_width=60)
                    self.clear_btn = gr.Button("Clear all", size="sm", variant="stop", elem_id="image-clear",
                                               min_width=60)
                self.status = gr.Markdown("Drop an image on the canvas, click it to browse, paste one, "
                                          "or pick an example.", elem_id="image-status")
                with gr.Accordion("Prompt by pixel coordinates", open=False):
                    gr.Markdown("Coordinates are in pixels of the original image, origin top-left.")
                    with gr.Row():
                        self.px = NumberBox(label="x", value=0, precision=1, elem_id="image-px", min_width=80)
                        self.py = NumberBox(label="y", value=0, precision=1, elem_id="image-py", min_width=80)
                        self.pfg = gr.Checkbox(label="Foreground", value=True, min_width=80)
                        self.point_btn = gr.Button("Add point", size="sm", elem_id="image-add-point")
                    with gr.Row():
                        self.bx0 = NumberBox(label="x0", value=0, precision=1, elem_id="image-bx0", min_width=70)
                        self.by0 = NumberBox(label="y0", value=0, precision=1, elem_id="image-by0", min_width=70)
                        self.bx1 = NumberBox(label="x1", value=0, precision=1, elem_id="image-bx1", min_width=70)
                        self.by1 = NumberBox(label="y1", value=0, precision=1, elem_id="image-by1", min_width=70)
                        self.box_btn = gr.Button("Set box", size="sm", elem_id="image-add-box")
                self._build_find()
            with gr.Column(scale=1, min_width=260):
                examples = example_images(self.examples_dir) if self.examples_dir else []
                # The examples fill this (hidden) upload box; it is also /load_image's input.
                self.upload = SafeImage(label="Image", type="filepath", image_mode=None,
                                        sources=["upload", "clipboard"], elem_id="image-upload", visible=False)
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[self.upload], cache_examples=False,
                                label="Examples (drawn by examples/make_examples.py)", examples_per_page=8)
                self.objects = ChoiceRadio([("Object 1 (empty)", 0)], value=0, label="Objects ([ ] or Tab)",
                                        elem_id="image-objects")
                with gr.Row(equal_height=False):
                    self.name = gr.Textbox(show_label=False, placeholder="Name the selected object", max_lines=1,
                                           scale=3, min_width=120, container=False, elem_id="image-obj-name")
                    self.rename_btn = gr.Button("Rename", size="sm", scale=1, min_width=60, elem_id="image-rename")
                with gr.Group():
                    self.export_btn = gr.Button("Prepare downloads", variant="primary", elem_id="image-export")
                    self.files = gr.File(label="Mask PNG · RGBA cutout PNG · COCO RLE JSON · one PNG per object (zip)",
                                         file_count="multiple", interactive=False, elem_id="image-files")
        with gr.Accordion("Segment everything (automatic mask generator)", open=False):
            with gr.Row():
                self.pps = NumberSlider(4, 64, value=self.everything_defaults.points_per_side, step=1,
                                        label="Points per side", elem_id="image-pps")
                self.iou_t = NumberSlider(0.0, 1.0, value=0.8, step=0.01, label="Predicted IoU threshold",
                                         elem_id="image-iou-thresh")
                self.stab_t = NumberSlider(0.0, 1.0, value=0.95, step=0.01, label="Stability score threshold",
                                          elem_id="image-stability-thresh")
            with gr.Row():
                self.nms_t = NumberSlider(0.0, 1.0, value=0.7, step=0.01, label="Box NMS threshold")
                self.crops = NumberSlider(0, 2, value=0, step=1, label="Crop layers", elem_id="image-crops")
                self.min_area = NumberBox(value=0, precision=0, minimum=0, label="Min region area (px)")
            with gr.Row():
                self.everything_btn = gr.Button("Segment everything", variant="primary", elem_id="image-everything")
                self.everything_cancel_btn = gr.Button("Cancel", variant="stop", elem_id="image-everything-cancel")
            gr.Markdown(self._everything_limit_text(), elem_id="image-everything-limit")
            gr.Markdown("The regions are drawn on the picture: hover to see one, click one to make it an object.")
            with gr.Row():
                self.everything_status = gr.Markdown(elem_id="image-everything-status")
                self.everything_file = gr.File(label="COCO RLE JSON", interactive=False)
        gr.Markdown(
            f"Images larger than {MAX_DISPLAY_SIDE} px on their long side are shown downscaled; "
            "prompts, masks and downloads use the original resolution."
        )
        # What the API endpoints return and the page does not show (the canvas draws it all).
        with gr.Column(visible=False):
            self.api_button = gr.Button("api", elem_id="image-api")  # the named endpoints' trigger
            self.overlay = gr.Image(label="Overlay", type="numpy", format="jpeg", interactive=False)
            self.gallery = gr.Gallery(label="Candidate masks", interactive=False)
            self.candidate = ChoiceRadio(CANDIDATE_CHOICES, value=None, label="Mask used")
            self.everything_canvas = gr.Image(label="All masks", type="numpy", format="jpeg", interactive=False)
        self._wire()

    def _everything_limit_text(self) -> str:
        budget = self.controller.engine.everything_budget
        if budget is None:
            return "Progress is shown while it runs; Cancel stops it."
        sides = [EverythingParams(points_per_side=128, crop_n_layers=n).within(budget)[0] for n in (0, 1, 2)]
        examples = ", ".join(f"{p.points_per_side}×{p.points_per_side} with {p.crop_n_layers}" for p in sides)
        return (f"On this server one run is limited to about {budget:,} prompts (points per side² × crops, "
                f"plus {ENCODE_PROMPTS} per crop): at most {examples} crop layers. Larger settings are reduced "
                "with a note. Progress is shown while it runs; Cancel stops it.")

    # ------------------------------------------------------------------ rendering
    def api_outputs(self) -> List[Any]:
        return [self.overlay, self.gallery, self.candidate, self.objects, self.status]

    def _page_outputs(self) -> List[Any]:
        return [self.canvas, self.objects, self.status]

    def render_api(self, view: ImageView) -> Dict[Any, Any]:
        """An API endpoint's outputs (unchanged since before the canvas)."""
        return {
            self.overlay: view.canvas,
            self.gallery: [(c.thumbnail, c.caption) for c in view.candidates],
            self.candidate: gr.Radio(
                choices=[(c.label, i) for i, c in enumerate(view.candidates)] or CANDIDATE_CHOICES,
                value=view.chosen),
            self.objects: gr.Radio(choices=view.objects, value=view.active),
            self.status: view.status,
        }

    def _show(self, view: CanvasView, ack: Optional[int] = None, **extra: Any) -> Dict[Any, Any]:
        """The page's outputs: the canvas change, the objects list and the status line."""
        update = view.update
        if ack is not None:
            update.ack = ack
        for name, value in extra.items():
            setattr(update, name, value)
        return {self.canvas: update.to_value(), self.objects: gr.Radio(choices=view.objects, value=view.active),
                self.status: view.status}

    def _hinted(self, act: Callable[[], CanvasView], ack: Optional[int] = None, **extra: Any) -> Dict[Any, Any]:
        """Run a canvas gesture: a refusal is a hint on the picture and the status line, not a
        toast; the gesture's provisional mark goes (``ack``), the session is as it was."""
        try:
            return self._show(act(), ack, **extra)
        except (UserError, ModelUnavailableError, CanvasPayloadError) as exc:
            text = str(exc).replace("`", "")
            return {self.canvas: CanvasUpdate(hint=text, ack=ack).to_value(), self.status: f"⚠️ {text}"}

    # ------------------------------------------------------------------ after a reload
    def restore_outputs(self) -> List[Any]:
        return self._page_outputs()

    def restore(self, sid: Optional[str]) -> Dict[Any, Any]:
        """What the tab showed before the page was reloaded (nothing when there is no session):
        the picture, every object's mask and prompts, redrawn on the new page's canvas."""
        return restore_tab(self.controller.sessions, sid, lambda s: self.ui.view(s, fresh=True), self._show)

    def session_model(self, sid: Optional[str]) -> Optional[str]:
        """The model this tab's session works with (None: no session)."""
        return self.controller.model_of(sid) if sid in self.controller.sessions else None

    # ------------------------------------------------------------------ events
    def _wire(self) -> None:
        wire_api(self)  # first: the named endpoints keep their plain names
        self._wire_page()
        # Not in the everything group (it must run while that event holds the group's slot).
        self.endpoints.endpoint(self.cancel_everything, None, "cancel_everything", on=self.everything_cancel_btn.click,
                                outputs=[self.everything_status], cancels=[self.api_everything, self.page_everything],
                                **self.prompt_kw())
        self._wire_find()
        self._wire_stale_downloads()

    def prompt_kw(self) -> Dict[str, Any]:
        return dict(concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)

    def everything_handler(self, controller: ImageController, show: Callable[[Any], Dict[Any, Any]]) -> Callable:
        """The generator behind a "segment everything" event: progress while it runs, then
        ``show(view)`` (the page draws regions on its canvas, the API gets the overlay picture)."""

        @guarded(self.everything_status, generator=True)
        def segment_everything(points_per_side: float, pred_iou_thresh: float, stability_score_thresh: float,
                               box_nms_thresh: float, crop_n_layers: float, min_mask_region_area: float,
                               request: gr.Request, progress=gr.Progress()):
            params = self._everything_params(points_per_side, pred_iou_thresh, stability_score_thresh,
                                             box_nms_thresh, crop_n_layers, min_mask_region_area)
            for view in controller.everything(connection_of(request), params, progress_adapter(progress)):
                yield {self.everything_status: gr.skip()} if view is None else show(view)

        return segment_everything

    def _everything_params(self, points_per_side: float, pred_iou_thresh: float, stability_score_thresh: float,
                           box_nms_thresh: float, crop_n_layers: float, min_mask_region_area: float) -> EverythingParams:
        return EverythingParams(
            points_per_side=whole_number(points_per_side, "points per side"),
            pred_iou_thresh=number(pred_iou_thresh, "predicted IoU threshold"),
            stability_score_thresh=number(stability_score_thresh, "stability score threshold"),
            box_nms_thresh=number(box_nms_thresh, "box NMS threshold"),
            crop_n_layers=whole_number(crop_n_layers, "crop layers"),
            min_mask_region_area=whole_number(0 if min_mask_region_area is None else min_mask_region_area,
                                              "min region area"),
        )

    def _wire_page(self) -> None:
        """The page: gestures and keys on the canvas, the buttons beside it (no API names)."""
        ui = self.ui
        page = self._page_outputs()
        # Every gesture counts (none dropped while another is answered); the page shows no
        # progress veil over the picture per click.
        gesture_kw = dict(trigger_mode="multiple", api_visibility="private", show_progress="hidden",
                          **self.prompt_kw())
        button_kw = dict(api_visibility="private", show_progress="hidden", **self.prompt_kw())

        @guarded(self.status)
        def on_point(evt: gr.EventData, request: gr.Request):
            seq = _seq(evt)
            return self._hinted(lambda: (lambda p: ui.add_point(connection_of(request), p.x, p.y, p.label == 1))(
                PointEvent.parse(evt)), seq)

        @guarded(self.status)
        def on_box(evt: gr.EventData, request: gr.Request):
            seq = _seq(evt)
            return self._hinted(lambda: (lambda b: ui.add_box(connection_of(request), *b.as_box))(BoxEvent.parse(evt)), seq)

        @guarded(self.status)
        def on_history(evt: gr.EventData, request: gr.Request):
            """Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y: back or forward one change of any kind."""
            return self._hinted(lambda: ui.history(connection_of(request), HistoryEvent.parse(evt).step))

        @guarded(self.status)
        def on_stroke(evt: gr.EventData, request: gr.Request):
            """Brush / eraser on the selected object's mask (applied after SAM's, kept through clicks)."""
            def act() -> CanvasView:
                s = StrokeEvent.parse(evt)
                return ui.add_stroke(connection_of(request), s.points, s.radius, s.erase)

            return self._hinted(act, _seq(evt))

        @guarded(self.status)
        def on_undo(evt: gr.EventData, request: gr.Request):
            return self._hinted(lambda: ui.undo(connection_of(request)))

        @guarded(self.status)
        def on_new_object(evt: gr.EventData, request: gr.Request):
            return self._hinted(lambda: ui.new_object(connection_of(request)))

        @guarded(self.status)
        def on_candidate(evt: gr.EventData, request: gr.Request):
            return self._hinted(lambda: ui.choose(connection_of(request), IndexEvent.parse(evt, upper=3).index))

        @guarded(self.status)
        def on_delete_object(evt: gr.EventData, request: gr.Request):
            return self._hinted(lambda: ui.remove_object(connection_of(request), ObjectEvent.parse(evt).object_id))

        @guarded(self.status)
        def on_select_object(evt: gr.EventData, request: gr.Request):
            sid = connection_of(request)

            def act() -> CanvasView:
                oid = ObjectEvent.parse(evt).object_id
                if oid is None:
                    raise UserError("No object to select yet: click the picture to start one.")
                return ui.select_object(sid, oid)

            return self._hinted(act)

        @guarded(self.status)
        def on_pick_region(evt: gr.EventData, request: gr.Request):
            # The regions go once one is picked: clicks on the picture refine that object.
            return self._hinted(lambda: ui.pick_region(connection_of(request), IndexEvent.parse(evt).index),
                                _seq(evt) or None, regions={})

        def preparing(sid: Optional[str]) -> Dict[str, Any]:
            """"Preparing image…" while ``prepare`` (chained after a load) encodes the picture;
            the estimate is the last encode with the session's model (None: not yet known)."""
            return preparing_for("image", ui.engine.encode_seconds.get(ui.model_of(sid)))

        @guarded(self.status)
        def on_upload(evt: gr.EventData, request: gr.Request):
            def act() -> CanvasView:
                u = UploadEvent.parse(evt)
                return ui.load(connection_of(request), u.path, name=u.name)

            return self._hinted(act, preparing=preparing(connection_of(request)))

        @guarded(self.status)
        def prepare(model_id: Optional[str], request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            """Load the model and encode the image right after it arrives (the first click is then fast)."""
            return self._hinted(lambda: ui.prepare(connection_of(request), model_id, progress_adapter(progress)))

        @guarded(self.status)
        def load_example(path: Optional[str], request: gr.Request):
            """An example picked (it fills the hidden upload box)."""
            if not path:
                return {}
            return self._hinted(lambda: ui.load(connection_of(request), path),
                                preparing=preparing(connection_of(request)))

        @guarded(self.status)
        def page_set_model(model_id: str, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return self._show(ui.set_model(connection_of(request), model_id, progress_adapter(progress)))

        def page_sync_model(request: gr.Request):
            """The dropdown shows the session's model (back to it after a failed switch), marks fresh."""
            return dropdown_update(ui.engine.registry, ui.model_of(connection_of(request)))

        def button(act: Callable[[Optional[str]], CanvasView]):
            @guarded(self.status)
            def handler(request: gr.Request):
                return self._hinted(lambda: act(connection_of(request)))

            return handler

        @guarded(self.status)
        def page_add_point(x: float, y: float, foreground: bool, request: gr.Request):
            return self._hinted(lambda: ui.add_point(connection_of(request), x, y, bool(foreground)))

        @guarded(self.status)
        def page_add_box(x0: float, y0: float, x1: float, y1: float, request: gr.Request):
            return self._hinted(lambda: ui.add_box(connection_of(request), x0, y0, x1, y1))

        @guarded(self.status)
        def page_select_object(index: Optional[int], request: gr.Request):
            if index is None:
                return {}
            sid = connection_of(request)
            return self._hinted(lambda: ui.select_object(sid, ui.object_id_at(sid, index)))

        c = self.canvas
        c.point(on_point, None, page, **gesture_kw)
        c.box(on_box, None, page, **gesture_kw)
        c.stroke(on_stroke, None, page, **gesture_kw)
        c.history(on_history, None, page, **gesture_kw)
        c.undo(on_undo, None, page, **gesture_kw)
        c.new_object(on_new_object, None, page, **gesture_kw)
        c.candidate(on_candidate, None, page, **gesture_kw)
        c.delete_object(on_delete_object, None, page, **gesture_kw)
        c.select_object(on_select_object, None, page, **gesture_kw)
        c.pick_region(on_pick_region, None, page, **gesture_kw)
        # The picture is encoded as soon as it is loaded (and when the model changes), the
        # canvas saying "Preparing image…" meanwhile; clicks made then wait for it.
        end_preparing = dict(fn=None, inputs=None, outputs=[c], js=END_PREPARING_JS, api_visibility="private")
        c.upload(on_upload, None, page, **button_kw).then(prepare, [self.model], page, **button_kw).then(**end_preparing)
        self.upload.change(load_example, [self.upload], page, **button_kw).then(
            prepare, [self.model], page, **button_kw).then(**end_preparing)
        self.model.input(None, None, [c], js=SHOW_PREPARING_JS, api_visibility="private")
        self.model.input(page_set_model, [self.model], page, **button_kw).then(
            page_sync_model, None, [self.model], api_visibility="private").then(
            prepare, [self.model], page, **button_kw).then(**end_preparing)
        self.undo_btn.click(button(lambda sid: ui.undo(sid)), None, page, **button_kw)
        self.refine_btn.click(button(lambda sid: ui.refine(sid)), None, page, **button_kw)
        self.new_obj_btn.click(button(lambda sid: ui.new_object(sid)), None, page, **button_kw)
        self.remove_obj_btn.click(button(lambda sid: ui.remove_object(sid)), None, page, **button_kw)

        @guarded(self.status)
        def page_rename(name: str, request: gr.Request):
            return self._hinted(lambda: ui.rename_object(connection_of(request), name))

        gr.on([self.rename_btn.click, self.name.submit], page_rename, [self.name], page, **button_kw)
        self.clear_btn.click(button(lambda sid: ui.clear_all(sid)), None, page, **button_kw)
        self.objects.input(page_select_object, [self.objects], page, **button_kw)
        self.point_btn.click(page_add_point, [self.px, self.py, self.pfg], page, **button_kw)
        self.box_btn.click(page_add_box, [self.bx0, self.by0, self.bx1, self.by1], page, **button_kw)
        self.page_everything = self.everything_btn.click(
            self.everything_handler(ui, lambda view: {
                self.canvas: CanvasUpdate(regions=everything_regions(view.masks, view.display)).to_value(),
                self.everything_status: view.status, self.everything_file: view.json_path}),
            self.everything_inputs(),
            [self.canvas, self.everything_status, self.everything_file],
            api_visibility="private", concurrency_id=EVERYTHING_GROUP, concurrency_limit=1,
            show_progress_on=[self.everything_status])

    def everything_inputs(self) -> List[Any]:
        return [self.pps, self.iou_t, self.stab_t, self.nms_t, self.crops, self.min_area]

    # ------------------------------------------------------------------ find objects
    def _build_find(self) -> None:
        """Words or a box file in, one object per box out (``ui.image.find``)."""
        if self.find is None:
            return

        reason = self.find.unavailable_reason()
        with gr.Accordion("Find objects (type what to find, or upload boxes)", open=False, elem_id="image-find"):
            if reason is not None:
                gr.Markdown(f"⚠️ {reason}")
            with gr.Row():
                self.find_text = gr.Textbox(label="Find", placeholder="car, person", max_lines=1,
                                            elem_id="image-find-text", scale=3, min_width=160)
                self.find_threshold = NumberSlider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label="Score threshold",
                                                   elem_id="image-find-threshold", scale=2, min_width=160)
                self.find_btn = gr.Button("Find", variant="primary", elem_id="image-find-button", scale=1)
            self.find_file = gr.File(label="Boxes from a file (COCO JSON or YOLO .txt)", file_types=[".json", ".txt"],
                                     type="filepath", elem_id="image-find-file")

    def _wire_find(self) -> None:
        if self.find is None or self.ui_find is None:
            return
        prompt_kw = self.prompt_kw()

        def wire(finder: ImageFind, render: Callable[[Any], Dict[Any, Any]], outputs: List[Any], **kw: Any) -> tuple:
            @guarded(self.status)
            def find(query: str, threshold: float, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
                return render(finder.find(connection_of(request), query, threshold, progress_adapter(progress)))

            @guarded(self.status)
            def find_boxes_file(file: Optional[str], threshold: float, request: gr.Request,
                                progress=gr.Progress(track_tqdm=True)):
                if not file:
                    raise UserError("Upload a COCO detections .json or a YOLO .txt file first.")
                return render(finder.from_file(connection_of(request), file, threshold,
                                               progress=progress_adapter(progress)))

            return find, find_boxes_file

        # The page: found objects appear on the canvas with their label chips.
        find, find_boxes_file = wire(self.ui_find, self._show, self._page_outputs())
        find.__name__, find_boxes_file.__name__ = "page_find", "page_find_boxes_file"
        gr.on([self.find_btn.click, self.find_text.submit], find, [self.find_text, self.find_threshold],
              self._page_outputs(), api_visibility="private", show_progress_on=[self.status], **prompt_kw)
        # A file's boxes obey the same score threshold slider as the detector's.
        self.find_file.upload(find_boxes_file, [self.find_file, self.find_threshold], self._page_outputs(),
                              api_visibility="private", show_progress_on=[self.status], **prompt_kw)
        # The API: as before.
        find, find_boxes_file = wire(self.find, self.render_api, self.api_outputs())
        self.endpoints.endpoint(find, [self.find_text, self.find_threshold], "find", **prompt_kw)
        self.endpoints.endpoint(find_boxes_file, [self.find_file, self.find_threshold], "find_boxes_file", **prompt_kw)

    def _wire_stale_downloads(self) -> None:
        """Offered files always match what is on screen: downloads are made on demand, and the
        browser takes them away (no server round trip) as soon as the masks change -- every
        change updates the canvas -- or, for "segment everything", the image or model does."""
        self.canvas.change(None, None, [self.files], js="() => null")
        gr.on([self.upload.change, self.canvas.upload, self.model.input], None, None,
              [self.everything_file, self.everything_status], js="() => [null, '']")


def _seq(evt: Any) -> Optional[int]:
    """The gesture number a canvas event carries (None if missing or malformed)."""
    data = getattr(evt, "_data", None)
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
