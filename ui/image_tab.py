"""The "Image" tab: components and event wiring only; behaviour lives in ``ImageController``.

Named API endpoints (for ``gradio_client``; each ``Client`` is one session, so the image
loaded by ``/load_image`` stays for the following calls):

* ``/load_image(image)``, ``/set_model(model)``
* ``/add_point(x, y, foreground)`` and ``/add_box(x0, y0, x1, y1)`` in original-image pixels
* ``/undo``, ``/clear``, ``/refine``, ``/pick_candidate(index)``, ``/new_object``,
  ``/select_object(index)``, ``/remove_object``
* ``/export`` -> [mask PNG, RGBA cutout PNG, COCO RLE JSON, (label PNG)]
* ``/segment_everything(points_per_side, pred_iou_thresh, stability_score_thresh,
  box_nms_thresh, crop_n_layers, min_mask_region_area)``: streams "batch i of n" progress;
  settings above the server's budget are reduced (the status says so)
* ``/cancel_everything``: stops this session's segment everything within a batch
* ``/find(query, threshold)``: "car, person" -> one object per box found (label and score
  kept on it); ``/find_boxes_file(file)``: the same from a COCO detections ``.json`` or a
  YOLO ``.txt`` (class numbers as labels)
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import gradio as gr

from ui.errors import guarded
from ui.progress import progress_adapter
from ui.image_controller import ImageController, ImageView
from ui.image_engine import ENCODE_PROMPTS, EverythingParams
from ui.inputs import number, whole_number
from ui.image_find import ImageFind
from ui.model_selector import dropdown_update
from ui.number_components import NumberBox, NumberSlider
from ui.overlay import MAX_DISPLAY_SIDE
from ui.sessions import connection_of, restore_tab

CLICK_CHOICES = [("Foreground point", "foreground"), ("Background point", "background"),
                 ("Box (click two corners)", "box")]
CANDIDATE_CHOICES = [("Mask 1", 0), ("Mask 2", 1), ("Mask 3", 2)]
PROMPT_GROUP = "image_prompt"
EVERYTHING_GROUP = "image_everything"


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
        from sam2.media.images import SUPPORTED_FORMATS, ImageLoadError, check_image_kind

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


@dataclass
class EverythingDefaults:
    points_per_side: int = 32


class ImageTab:
    """Builds the tab inside an open ``gr.Blocks`` and wires it to a controller."""

    def __init__(self, controller: ImageController, examples_dir: Optional[str] = None,
                 everything_defaults: EverythingDefaults = EverythingDefaults(),
                 concurrency_limit: int = 4, find: Optional[ImageFind] = None) -> None:
        self.controller = controller
        self.find = find  # None: no "Find objects" block
        self.examples_dir = examples_dir
        self.everything_defaults = everything_defaults
        self.concurrency_limit = concurrency_limit

    # ------------------------------------------------------------------ layout
    def build(self, model: gr.Dropdown) -> None:
        self.model = model
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                self.canvas = gr.Image(
                    label="Click on the image to add prompts", type="numpy", format="jpeg",
                    interactive=False, elem_id="image-canvas", height=620,
                    buttons=["download", "fullscreen"],
                )
                self.mode = gr.Radio(CLICK_CHOICES, value="foreground", label="A click adds",
                                     elem_id="image-click-mode")
                with gr.Row():
                    self.undo_btn = gr.Button("↶ Undo", size="sm", elem_id="image-undo")
                    self.refine_btn = gr.Button("Refine", size="sm", elem_id="image-refine")
                    self.new_obj_btn = gr.Button("+ New object", size="sm", elem_id="image-new-object")
                    self.clear_btn = gr.Button("Clear all", size="sm", variant="stop", elem_id="image-clear")
                self.status = gr.Markdown("Upload an image or pick an example to start.", elem_id="image-status")
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
            with gr.Column(scale=2, min_width=300):
                self.upload = SafeImage(
                    label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                    elem_id="image-upload", height=240,
                )
                examples = example_images(self.examples_dir) if self.examples_dir else []
                if examples:
                    gr.Examples(examples=[[p] for p in examples], inputs=[self.upload],
                                cache_examples=False, label="Examples (drawn by examples/make_examples.py)")
                self.gallery = gr.Gallery(label="Candidate masks (click one to use it)", columns=3,
                                          height=200, allow_preview=False, object_fit="contain",
                                          elem_id="image-candidates", interactive=False)
                self.candidate = gr.Radio(CANDIDATE_CHOICES, value=None, label="Mask used",
                                          elem_id="image-candidate")
                self.objects = gr.Radio([("Object 1 (empty)", 0)], value=0, label="Objects",
                                        elem_id="image-objects")
                self.remove_obj_btn = gr.Button("Remove object", size="sm")
                with gr.Group():
                    self.export_btn = gr.Button("Prepare downloads", variant="primary", elem_id="image-export")
                    self.files = gr.File(label="Mask PNG · RGBA cutout PNG · COCO RLE JSON",
                                         file_count="multiple", interactive=False, elem_id="image-files")
        with gr.Accordion("Segment everything (automatic mask generator)", open=False):
            with gr.Row():
                self.pps = NumberSlider(4, 64, value=self.everything_defaults.points_per_side, step=1,
                                        label="Points per side", elem_id="image-pps")
                self.iou_t = NumberSlider(0.0, 1.0, value=0.8, step=0.01, label="Predicted IoU threshold")
                self.stab_t = NumberSlider(0.0, 1.0, value=0.95, step=0.01, label="Stability score threshold")
            with gr.Row():
                self.nms_t = NumberSlider(0.0, 1.0, value=0.7, step=0.01, label="Box NMS threshold")
                self.crops = NumberSlider(0, 2, value=0, step=1, label="Crop layers", elem_id="image-crops")
                self.min_area = NumberBox(value=0, precision=0, minimum=0, label="Min region area (px)")
            with gr.Row():
                self.everything_btn = gr.Button("Segment everything", variant="primary", elem_id="image-everything")
                self.everything_cancel_btn = gr.Button("Cancel", variant="stop", elem_id="image-everything-cancel")
            gr.Markdown(self._everything_limit_text(), elem_id="image-everything-limit")
            with gr.Row():
                self.everything_canvas = gr.Image(label="All masks", type="numpy", format="jpeg",
                                                  interactive=False, elem_id="image-everything-canvas")
                with gr.Column():
                    self.everything_status = gr.Markdown(elem_id="image-everything-status")
                    self.everything_file = gr.File(label="COCO RLE JSON", interactive=False)
        gr.Markdown(
            f"Images larger than {MAX_DISPLAY_SIDE} px on their long side are shown downscaled; "
            "prompts, masks and downloads use the original resolution."
        )
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
    def _view_outputs(self) -> List[Any]:
        return [self.canvas, self.gallery, self.candidate, self.objects, self.status]

    def _render(self, view: ImageView) -> Dict[Any, Any]:
        return {
            self.canvas: view.canvas,
            self.gallery: [(c.thumbnail, c.caption) for c in view.candidates],
            self.candidate: gr.Radio(
                choices=[(c.label, i) for i, c in enumerate(view.candidates)] or CANDIDATE_CHOICES,
                value=view.chosen),
            self.objects: gr.Radio(choices=view.objects, value=view.active),
            self.status: view.status,
        }

    # ------------------------------------------------------------------ after a reload
    def restore_outputs(self) -> List[Any]:
        return self._view_outputs()

    def restore(self, sid: Optional[str]) -> Dict[Any, Any]:
        """What the tab showed before the page was reloaded (nothing when there is no session)."""
        return restore_tab(self.controller.sessions, sid, self.controller.view, self._render)

    def session_model(self, sid: Optional[str]) -> Optional[str]:
        """The model this tab's session works with (None: no session)."""
        return self.controller.model_of(sid) if sid in self.controller.sessions else None

    # ------------------------------------------------------------------ events
    def _wire(self) -> None:
        c = self.controller
        views = self._view_outputs()
        prompt_kw = dict(concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)

        @guarded(self.status)
        def load_image(path: Optional[str], request: gr.Request):
            sid = connection_of(request)
            if not path:
                return self._render(c.reset(sid))
            return self._render(c.load_image(sid, path))

        @guarded(self.status)
        def prepare(model_id: Optional[str], request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            """Load the model and encode the image right after an upload (first click is then fast)."""
            view = c.prepare(connection_of(request), model_id, progress_adapter(progress))
            return {self.status: view.status}

        @guarded(self.status)
        def set_model(model_id: str, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return self._render(c.set_model(connection_of(request), model_id, progress_adapter(progress)))

        def sync_model(request: gr.Request):
            """The dropdown shows the session's model (back to it after a failed switch), marks fresh."""
            return dropdown_update(c.engine.registry, c.model_of(connection_of(request)))

        @guarded(self.status)
        def on_click(mode: str, evt: gr.SelectData, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            x, y = evt.index[0], evt.index[1]
            return self._render(c.click(connection_of(request), x, y, mode, progress_adapter(progress)))

        @guarded(self.status)
        def add_point(x: float, y: float, foreground: bool, request: gr.Request,
                      progress=gr.Progress(track_tqdm=True)):
            return self._render(c.add_point(connection_of(request), x, y, bool(foreground), progress_adapter(progress)))

        @guarded(self.status)
        def add_box(x0: float, y0: float, x1: float, y1: float, request: gr.Request,
                    progress=gr.Progress(track_tqdm=True)):
            return self._render(c.add_box(connection_of(request), x0, y0, x1, y1, progress_adapter(progress)))

        @guarded(self.status)
        def undo(request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return self._render(c.undo(connection_of(request), progress_adapter(progress)))

        @guarded(self.status)
        def refine(request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return self._render(c.refine(connection_of(request), progress_adapter(progress)))

        @guarded(self.status)
        def clear(request: gr.Request):
            return self._render(c.clear(connection_of(request)))

        @guarded(self.status)
        def pick_candidate(index: Optional[int], request: gr.Request):
            if index is None:
                return {}
            return self._render(c.choose(connection_of(request), index))

        @guarded(self.status)
        def pick_from_gallery(evt: gr.SelectData, request: gr.Request):
            return self._render(c.choose(connection_of(request), int(evt.index)))

        @guarded(self.status)
        def new_object(request: gr.Request):
            return self._render(c.new_object(connection_of(request)))

        @guarded(self.status)
        def select_object(index: Optional[int], request: gr.Request):
            if index is None:
                return {}
            return self._render(c.select_object(connection_of(request), index))

        @guarded(self.status)
        def remove_object(request: gr.Request):
            return self._render(c.remove_object(connection_of(request)))

        @guarded(self.status)
        def export(request: gr.Request):
            paths = c.export(connection_of(request))
            return {self.files: paths, self.status: f"{len(paths)} files ready to download."}

        @guarded(self.everything_status, generator=True)
        def segment_everything(points_per_side: float, pred_iou_thresh: float, stability_score_thresh: float,
                               box_nms_thresh: float, crop_n_layers: float, min_mask_region_area: float,
                               request: gr.Request, progress=gr.Progress()):
            params = EverythingParams(
                points_per_side=whole_number(points_per_side, "points per side"),
                pred_iou_thresh=number(pred_iou_thresh, "predicted IoU threshold"),
                stability_score_thresh=number(stability_score_thresh, "stability score threshold"),
                box_nms_thresh=number(box_nms_thresh, "box NMS threshold"),
                crop_n_layers=whole_number(crop_n_layers, "crop layers"),
                min_mask_region_area=whole_number(0 if min_mask_region_area is None else min_mask_region_area,
                                                  "min region area"),
            )
            for view in c.everything(connection_of(request), params, progress_adapter(progress)):
                if view is None:
                    yield {self.everything_status: gr.skip()}
                else:
                    yield {self.everything_canvas: view.canvas, self.everything_status: view.status,
                           self.everything_file: view.json_path}

        @guarded(self.everything_status)
        def cancel_everything(request: gr.Request):
            return {self.everything_status: c.cancel_everything(connection_of(request))}

        self.upload.change(load_image, [self.upload], views, api_name="load_image",
                           concurrency_limit=self.concurrency_limit).then(
            prepare, [self.model], [self.status], api_visibility="undocumented", **prompt_kw)
        self.model.input(set_model, [self.model], views, api_name="set_model", **prompt_kw).then(
            sync_model, None, [self.model], api_visibility="private")
        self.canvas.select(on_click, [self.mode], views, api_visibility="undocumented",
                           trigger_mode="multiple", **prompt_kw)
        self.point_btn.click(add_point, [self.px, self.py, self.pfg], views, api_name="add_point", **prompt_kw)
        self.box_btn.click(add_box, [self.bx0, self.by0, self.bx1, self.by1], views, api_name="add_box",
                           **prompt_kw)
        self.undo_btn.click(undo, None, views, api_name="undo", **prompt_kw)
        self.refine_btn.click(refine, None, views, api_name="refine", **prompt_kw)
        self.clear_btn.click(clear, None, views, api_name="clear", **prompt_kw)
        self.candidate.input(pick_candidate, [self.candidate], views, api_name="pick_candidate", **prompt_kw)
        self.gallery.select(pick_from_gallery, None, views, api_visibility="undocumented", **prompt_kw)
        self.new_obj_btn.click(new_object, None, views, api_name="new_object", **prompt_kw)
        self.objects.input(select_object, [self.objects], views, api_name="select_object", **prompt_kw)
        self.remove_obj_btn.click(remove_object, None, views, api_name="remove_object", **prompt_kw)
        self.export_btn.click(export, None, [self.files, self.status], api_name="export", **prompt_kw)
        everything_event = self.everything_btn.click(
            segment_everything,
            [self.pps, self.iou_t, self.stab_t, self.nms_t, self.crops, self.min_area],
            [self.everything_canvas, self.everything_status, self.everything_file],
            api_name="segment_everything", concurrency_id=EVERYTHING_GROUP, concurrency_limit=1,
        )
        # Not in the everything group (it must run while that event holds the group's slot).
        self.everything_cancel_btn.click(cancel_everything, None, [self.everything_status],
                                         api_name="cancel_everything", cancels=[everything_event],
                                         concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)
        self._wire_find()
        self._wire_stale_downloads()

    # ------------------------------------------------------------------ find objects
    def _build_find(self) -> None:
        """Words or a box file in, one object per box out (``ui.image_find``)."""
        if self.find is None:
            return
        from sam2.find import DEFAULT_THRESHOLD

        reason = self.find.unavailable_reason()
        with gr.Accordion("Find objects (type what to find, or upload boxes)", open=reason is None,
                          elem_id="image-find"):
            if reason is not None:
                gr.Markdown(f"⚠️ {reason}")
            with gr.Row():
                self.find_text = gr.Textbox(label="Find", placeholder="car, person", max_lines=1,
                                            elem_id="image-find-text", scale=3)
                self.find_threshold = NumberSlider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label="Score threshold",
                                                   elem_id="image-find-threshold", scale=2)
                self.find_btn = gr.Button("Find", variant="primary", elem_id="image-find-button", scale=1)
            self.find_file = gr.File(label="Boxes from a file (COCO JSON or YOLO .txt)", file_types=[".json", ".txt"],
                                     type="filepath", elem_id="image-find-file")

    def _wire_find(self) -> None:
        if self.find is None:
            return
        finder = self.find
        views = self._view_outputs()
        prompt_kw = dict(concurrency_id=PROMPT_GROUP, concurrency_limit=self.concurrency_limit)

        @guarded(self.status)
        def find(query: str, threshold: float, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            return self._render(finder.find(connection_of(request), query, threshold, progress_adapter(progress)))

        @guarded(self.status)
        def find_boxes_file(file: Optional[str], request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            if not file:
                return {}  # the file was removed from the box
            return self._render(finder.from_file(connection_of(request), file, progress=progress_adapter(progress)))

        gr.on([self.find_btn.click, self.find_text.submit], find, [self.find_text, self.find_threshold], views,
              api_name="find", **prompt_kw)
        self.find_file.upload(find_boxes_file, [self.find_file], views, api_name="find_boxes_file", **prompt_kw)

    def _wire_stale_downloads(self) -> None:
        """Offered files always match what is on screen: downloads are made on demand, and the
        browser takes them away (no server round trip) as soon as the masks change -- every
        change re-renders the canvas -- or, for "segment everything", the image or model does."""
        self.canvas.change(None, None, [self.files], js="() => null")
        gr.on([self.upload.change, self.model.input], None, None,
              [self.everything_file, self.everything_canvas, self.everything_status], js="() => [null, null, '']")
