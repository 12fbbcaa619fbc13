"""Image-tab behaviour without Gradio: session bookkeeping and calls to the engine.

Every public method takes the session id, runs under that session's lock, and returns what
the controller's renderer makes of the session afterwards (``ui.image.view``: an
``ImageView`` for the API endpoints, a ``CanvasView`` for the page's canvas; see
``rendering``). Problems the user can fix raise
``UserError`` with a readable message; ``ui.image.tab`` turns those into toasts.

The downloads (``ui.image.export_actions``), undo / redo (``ui.image.history_actions``) and
the brush (``ui.image.brush``) live in modules of their own whose classes the controller
inherits, as on the video side; they and ``ui.image.find`` use the helpers here that are
public for that (``view_of``, ``predict_active``, ``ensure_embedding``).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
import copy
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np
from PIL import Image

from ui.image import exports as image_exports
from ui.common import overlay
from ui.canvas import raster
from sam2.automatic_mask_generator import GenerationCancelled
from ui.common.background_job import BackgroundJob
from ui.image.engine import EverythingParams, ImageEngine, mask_as_logits
from ui.image.state import ImageObject, ImageSession, Prediction, PromptSet
from ui.image.brush import BrushActions
from ui.image.export_actions import ExportActions
from ui.image.history_actions import HistoryActions
from ui.image.view import ApiRenderer, View
from ui.common.progress import ProgressFn, TimeLeft, no_progress
from ui.common.errors import ModelUnavailableError, Notice, UserError
from ui.common.inputs import number, whole_number
from ui.models.names import model_label
from ui.models.switch import resolve_model, switch_model
from ui.common.session_controller import SessionController
from ui.image.slot import ImageSlot
from sam2.media.images import ImageLoadError, check_image_kind, load_image, to_rgb_uint8

log = logging.getLogger("sam2.app")

#: Largest image accepted, in pixels (width x height). Bigger ones are refused with a
#: message: their full-resolution masks and logits would need gigabytes per click.
MAX_IMAGE_PIXELS = 40_000_000
#: What an image session holds besides its picture (embedding, logits, thumbnails): bytes
#: asked of the session budget (``ui.common.session_limits``) when a picture is loaded.
IMAGE_SESSION_OVERHEAD = 32 * 1024 * 1024



#: Gradio 6.31's dropdown sends its ``input`` event twice per pick: a refused switch asked
#: again within this many seconds is answered from memory, without a second toast.
REPEAT_WINDOW_S = 2.0

#: The page prepares the picture after every pick, refused or not: a refusal this recent stays
#: on the status line instead of "Ready" (the model that works is the one prepared).
REFUSAL_SHOWN_S = 30.0


@dataclass
class EverythingView:
    """The result of "segment everything": its masks over the picture (made when asked: the
    API returns it, the page's canvas draws ``regions`` instead), count, status and file."""

    display: Any  # ui.canvas.raster.DisplayImage
    masks: Any  # PackedMasks, N x H x W
    status: str
    json_path: Optional[str]

    @property
    def canvas(self) -> np.ndarray:
        return overlay.colorize_everything(self.display.pixels, self.masks)





def read_image(source: Any) -> Tuple[np.ndarray, str]:
    """(H x W x 3 uint8 RGB, file name) from a path, bytes, PIL image or array.

    Refuses images above ``MAX_IMAGE_PIXELS`` before decoding them.
    """
    if source is None:
        raise UserError("No image was given.")
    name = "image"
    try:
        if isinstance(source, (str, os.PathLike)):
            name = os.path.basename(str(source))
            check_image_kind(source, name)
            try:
                with Image.open(source) as probe:
                    w, h = probe.size
            except Exception:  # noqa: BLE001 - load_image below gives the proper message
                w = h = 0
            _check_size(h, w)
            image = load_image(source, name=name)
        elif isinstance(source, (bytes, bytearray)):
            image = load_image(bytes(source))
        else:
            image = to_rgb_uint8(source)
    except ImageLoadError as exc:
        text = str(exc).replace(os.fspath(source), name) if isinstance(source, (str, os.PathLike)) else str(exc)
        if not text.startswith("Could not read"):
            text = f"Could not read {name} as an image: {text}"
        raise UserError(text) from None
    _check_size(*image.shape[:2])
    return image, name


def _check_size(h: int, w: int) -> None:
    if h * w > MAX_IMAGE_PIXELS:
        raise UserError(
            f"The image is {w}x{h} ({h * w / 1e6:.0f} megapixels); this app accepts up to "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. Please downscale it first."
        )


class ImageController(SessionController[ImageSlot], ExportActions, HistoryActions, BrushActions):
    """The image tab's logic for all sessions (the downloads, undo / redo and the brush are in
    the modules of the classes it inherits, as on the video side)."""

    def __init__(self, engine: ImageEngine, max_idle_s: float = 30 * 60.0,
                 render: Optional[Callable[[ImageSlot, str], Any]] = None) -> None:
        super().__init__(ImageSlot, max_idle_s)
        self.engine = engine
        #: What every action returns: ``render(slot, note)``, called under the session's lock.
        self.render: Callable[[ImageSlot, str], Any] = render or ApiRenderer(getattr(engine, "registry", None))

    def rendering(self, render: Callable[[ImageSlot, str], Any]) -> "ImageController":
        """The same controller (same sessions, engine and locks) whose actions return what
        ``render`` makes: the page's canvas uses ``ui.image.view.CanvasRenderer``, the API
        endpoints the default ``ApiRenderer``."""
        twin = copy.copy(self)
        twin.render = render
        return twin

    def model_of(self, sid: Optional[str]) -> str:
        return self.run_on(sid, lambda slot: self.engine.registry.resolve(slot.model_key))

    # ------------------------------------------------------------ actions
    def load(self, sid: Optional[str], source: Any, name: Optional[str] = None) -> View:
        """Load a new picture (path, bytes, PIL image or array); its objects start empty."""
        image, file_name = read_image(source)
        # the picture, its display copy and candidate masks, and the embedding to come
        self.sessions.reserve(sid, 2 * image.nbytes + IMAGE_SESSION_OVERHEAD)

        def act(slot: ImageSlot) -> View:
            slot.state.load(image, name or file_name, raster.make_display(image))
            slot.changes.forget()  # a new picture: nothing to undo into
            slot.files.cleanup()  # downloads of the previous image
            slot.last_encode_s = slot.last_decode_s = None
            try:
                self.engine.registry.require_available(slot.model_key)
            except ModelUnavailableError as exc:  # say so now, not after the first click
                return self.view_of(slot, note=f"⚠️ The image is here, but {exc}")
            return self.view_of(slot, note="Image loaded. Click on it to add a point.")

        return self.run_on(sid, act)

    def unload(self, sid: Optional[str]) -> View:
        """Forget the picture and its objects (the canvas was emptied); the model stays."""

        def act(slot: ImageSlot) -> View:
            slot.state = ImageSession()
            slot.changes.forget()
            slot.files.cleanup()
            return self.view_of(slot)

        return self.run_on(sid, act)

    def set_model(self, sid: Optional[str], model_id: Optional[str], progress: ProgressFn = no_progress) -> View:
        """Switch model; objects that have prompts are predicted again with the new one.

        A model that cannot be had leaves the session exactly as it was (its model, image,
        prompts and masks) and raises ``ModelUnavailableError`` saying which model stays.
        """

        def act(slot: ImageSlot) -> View:
            new_id = resolve_model(self.engine.registry.resolve, model_id)
            refused = slot.refused
            if refused is not None and refused[0] == new_id and time.monotonic() - refused[1] < REPEAT_WINDOW_S:
                return self.view_of(slot, note=f"⚠️ {refused[2]}")
            try:
                changed = self._switch_model(slot, new_id, progress)
            except ModelUnavailableError as exc:
                slot.refused = (new_id, time.monotonic(), str(exc))
                raise
            slot.refused = None
            if not changed:
                return self.view_of(slot)
            return self.view_of(slot, note=f"Model set to {model_label(self.engine.registry.resolve(slot.model_key))}.")

        return self.run_on(sid, act)

    def prepare(self, sid: Optional[str], model_id: Optional[str], progress: ProgressFn = no_progress) -> View:
        """Load the model and encode the current image now, so that the first click is fast."""

        def act(slot: ImageSlot) -> View:
            self._switch_model(slot, model_id, progress)
            if not slot.state.has_media:
                return self.view_of(slot)
            self.ensure_embedding(slot, progress)
            self._predict_all(slot, progress)
            refused = slot.refused  # a refused switch just before (its prepare follows): keep saying why
            if refused is not None and time.monotonic() - refused[1] < REFUSAL_SHOWN_S:
                return self.view_of(slot, note=f"⚠️ {refused[2]}")
            return self.view_of(slot, note="Ready. Click on the image to add a point.")

        return self.run_on(sid, act)

    def _switch_model(self, slot: ImageSlot, model_id: Optional[str], progress: ProgressFn) -> bool:
        """Make ``model_id`` the session's model (``ui.models.switch``); returns whether it changed.

        The new model is checked (no image yet) or loaded and applied to the session's
        objects before anything is committed: on failure the session keeps its model,
        embedding and masks, and the error names the model that stays.
        """
        registry = self.engine.registry
        st = slot.state

        def save() -> Any:
            return (slot.model_key, st.embedding, st.everything, [o.prediction for o in st.objects],
                    slot.last_encode_s, slot.last_decode_s)

        def apply(new_id: str) -> None:
            if st.has_media:
                self.engine.ensure_model(new_id, progress)
            self._apply_model(slot, new_id)
            if st.has_media and any(o.history for o in st.objects):
                self._predict_all(slot, progress)

        def restore(saved: Any) -> None:
            slot.model_key, st.embedding, st.everything, predictions, slot.last_encode_s, slot.last_decode_s = saved
            for obj, prediction in zip(st.objects, predictions):
                obj.prediction = prediction

        changed = switch_model(registry.resolve, registry.require_available, slot.model_key, model_id,
                               save=save, apply=apply, restore=restore)
        if not changed:
            slot.model_key = resolve_model(registry.resolve, model_id)
        return changed

    def _apply_model(self, slot: ImageSlot, new_id: str) -> None:
        """Commit ``new_id`` as the session's model: what the old one computed is dropped."""
        st = slot.state
        slot.model_key = new_id
        slot.changes.forget()  # its snapshots hold the old model's masks
        st.embedding = None
        st.everything = None
        for obj in st.objects:
            obj.prediction = None

    def add_point(self, sid: Optional[str], x: float, y: float, foreground: bool = True,
                  progress: ProgressFn = no_progress) -> View:
        """A point in original-image pixel coordinates (the API's way to click)."""
        px, py = number(x, "x"), number(y, "y")
        return self._prompt(sid, lambda st: st.add_point(px, py, 1 if foreground else 0), progress)

    def add_box(self, sid: Optional[str], x0: float, y0: float, x1: float, y1: float,
                progress: ProgressFn = no_progress) -> View:
        box = [number(v, name) for v, name in ((x0, "x0"), (y0, "y0"), (x1, "x1"), (y1, "y1"))]
        return self._prompt(sid, lambda st: st.add_box(*box), progress)

    def refine(self, sid: Optional[str], progress: ProgressFn = no_progress) -> View:
        return self._prompt(sid, lambda st: st.refine(), progress)

    def _prompt(self, sid: Optional[str], change: Callable[[ImageSession], Any], progress: ProgressFn) -> View:
        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            self.engine.registry.require_available(slot.model_key)  # no unseen prompt without a model
            change(slot.state)
            self.predict_active(slot, progress)
            return self.view_of(slot)

        return self.run_change(sid, act)

    def undo(self, sid: Optional[str], progress: ProgressFn = no_progress) -> View:
        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            what = slot.state.undo()
            self.predict_active(slot, progress)
            return self.view_of(slot, note=f"Undid the last {what}.")

        return self.run_change(sid, act)

    def clear_all(self, sid: Optional[str]) -> View:
        """Remove every object, prompt and mask; the picture stays."""

        def act(slot: ImageSlot) -> View:
            slot.state.clear_all()
            return self.view_of(slot, note="Cleared all objects." if slot.state.has_media else "")

        return self.run_change(sid, act)

    def choose(self, sid: Optional[str], index: int) -> View:
        i = whole_number(index, "candidate index")

        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            slot.state.choose(i)
            return self.view_of(slot)

        return self.run_change(sid, act)

    def new_object(self, sid: Optional[str]) -> View:
        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            obj = slot.state.new_object()
            return self.view_of(slot, note=f"{obj.name}: click on it to add points.")

        return self.run_change(sid, act)

    def select_object(self, sid: Optional[str], obj_id: int) -> View:
        """Select object ``obj_id`` (looked up under the session's lock, so a delete answered
        just before cannot shift the choice onto a neighbour)."""
        oid = whole_number(obj_id, "object id")

        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            slot.state.select_object(oid)
            self.predict_active(slot, no_progress)  # its candidates, if they were set aside
            return self.view_of(slot)

        return self.run_on(sid, act)

    def rename_object(self, sid: Optional[str], name: str, obj_id: Optional[int] = None) -> View:
        """Name the selected object (or object ``obj_id``); the list and the exports use the name."""
        oid = None if obj_id is None else whole_number(obj_id, "object id")

        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            obj = slot.state.rename_object(name, oid)
            return self.view_of(slot, note=f"Renamed to {obj.name}.")

        return self.run_change(sid, act)  # a step of its own: else undoing the change before it took the name back

    def remove_object(self, sid: Optional[str], obj_id: Optional[int] = None) -> View:
        """Delete object ``obj_id`` (None: the selected one)."""
        oid = None if obj_id is None else whole_number(obj_id, "object id")

        def act(slot: ImageSlot) -> View:
            slot.state.require_media()
            if oid is not None:
                slot.state.select_object(oid)
            slot.state.remove_object()
            self.predict_active(slot, no_progress)  # the next object's candidates, if set aside
            return self.view_of(slot)

        return self.run_change(sid, act)

    def object_id_at(self, sid: Optional[str], index: Any) -> int:
        """The id of the object at list position ``index`` (0-based): the API names objects so."""
        i = whole_number(index, "object index")

        def act(slot: ImageSlot) -> int:
            slot.state.require_media()
            objects = slot.state.objects
            if not 0 <= i < len(objects):
                raise UserError(f"There is no object number {i + 1}.")
            return objects[i].obj_id

        return self.run_on(sid, act)

    def view(self, sid: Optional[str], note: str = "", fresh: bool = False) -> Any:
        """The session as it is; ``fresh``: for a page that has nothing yet (after a reload),
        so a renderer that sends changes sends everything."""

        def act(slot: ImageSlot) -> Any:
            if fresh:
                slot.shown = None
            return self.view_of(slot, note=note)

        return self.run_on(sid, act)

    def pick_region(self, sid: Optional[str], index: int) -> Any:
        """Region ``index`` of "segment everything" becomes a new object, selected: its mask is
        the object's mask and its prompt the point that produced it, so clicks refine it."""
        i = whole_number(index, "region index")

        def act(slot: ImageSlot) -> Any:
            st = slot.state
            st.require_media()
            ev = st.everything
            if ev is None or not len(ev.masks):
                raise UserError("Run segment everything first, then click one of its regions.")
            if not 0 <= i < len(ev.masks):
                raise UserError(f"There is no region {i + 1} (there are {len(ev.masks)}).")
            if st.room <= 0:
                raise UserError("This image already has the most objects this app keeps; remove one first.")
            rec = ev.records[i]
            mask = np.asarray(ev.masks[i], dtype=bool)
            if not any(o.history for o in st.objects):
                st.next_color = 0  # nothing made yet: the picked region is Object 1
            (px, py), = rec.get("point_coords") or [[float(np.nonzero(mask)[1].mean()), float(np.nonzero(mask)[0].mean())]]
            obj = ImageObject(st.next_color, history=[PromptSet(points=((float(px), float(py), 1),))])
            obj.prediction = Prediction(
                masks=mask[None], iou=np.array([rec.get("predicted_iou", 0.0)], np.float32),
                stability=np.array([rec.get("stability_score", 0.0)], np.float32),
                low_res_logits=mask_as_logits(mask)[None])
            st.next_color += 1
            st.add_objects([obj])
            return self.view_of(slot, note=f"Region {i + 1} is now {obj.name}: click to refine it.")

        return self.run_change(sid, act)

    # ------------------------------------------------------------ segment everything
    def segment_everything(self, sid: Optional[str], params: EverythingParams,
                           progress: ProgressFn = no_progress) -> EverythingView:
        """Run "segment everything" to the end and return its view (see ``everything``)."""
        view: Optional[EverythingView] = None
        for step in self.everything(sid, params, progress):
            view = step if step is not None else view
        assert view is not None
        return view

    def everything(self, sid: Optional[str], params: EverythingParams,
                   progress: ProgressFn = no_progress) -> Iterator[Optional[EverythingView]]:
        """Run "segment everything" in a background thread, yielding None while it works
        (after reporting "batch i of n" to ``progress``) and its view at the end.

        Settings above the server's budget (``ImageEngine.everything_budget``) are reduced
        and the view says so. The session is not locked while the model works, so this tab's
        clicks go on; closing the generator (Cancel, a closed tab) stops the work within one
        batch of prompts, as does ``cancel_everything``.
        """
        try:
            params = params.validated()
        except ValueError as exc:
            raise UserError(str(exc)) from None
        params, note = params.within(self.engine.everything_budget)
        entry = self.sessions.get(sid)
        with entry.lock:
            slot = entry.state
            st = slot.state
            st.require_media()
            if slot.everything_job is not None and not slot.everything_job.finished.is_set():
                raise UserError("Segment everything is already running in this tab; wait for it or press Cancel.")
            model_id = self.engine.ensure_model(slot.model_key, progress)
            image, display = st.image, st.display
            assert image is not None and display is not None

            def work(job: BackgroundJob) -> Optional[EverythingView]:
                def on_batch(done: int, total: int) -> None:
                    job.done, job.total = done, total

                try:
                    result = self.engine.segment_everything(model_id, image, params, on_batch, job.stop)
                except GenerationCancelled:
                    log.info("segment everything cancelled after %d of %d batches", job.done, job.total)
                    raise
                with entry.lock:
                    if slot.state.image is not image:
                        return None  # another image was loaded meanwhile: this result is stale
                    slot.state.everything = result
                    path = self._write_everything_json(slot)
                n = len(result.masks)
                status = (f"**{n} mask{'s' if n != 1 else ''}** found in {result.seconds:.1f} s "
                          f"({params.points_per_side}x{params.points_per_side} points, {params.crop_n_layers} "
                          f"crop layer{'s' if params.crop_n_layers != 1 else ''}, {model_label(model_id)}).")
                if n == 0:
                    status += " Try lower IoU / stability thresholds."
                if note:
                    status = f"⚠️ {note}  \n{status}"
                return EverythingView(display, result.masks, status, path)

            job = BackgroundJob(work, name="sam2-everything")
            slot.everything_job = job.start()
        if note:
            progress(None, note)

        left = TimeLeft()

        def tick(j: BackgroundJob) -> None:
            if j.total:
                progress(j.done / j.total,
                         f"Segment everything: batch {j.done} of {j.total}{left.text(j.done, j.total)}")
            else:
                progress(None, "Segment everything: encoding the image...")

        try:
            yield from job.watch(tick)
        except GenerationCancelled:
            raise Notice(f"Segment everything cancelled after {job.done} of {job.total} batches.") from None
        if job.result is None:
            raise UserError("Another image was loaded while segment everything ran; run it again.")
        yield job.result

    def cancel_everything(self, sid: Optional[str], wait_s: float = 30.0) -> str:
        """Stop this session's "segment everything" (within a batch); returns a status line."""
        slot = self.sessions.get(sid).state
        job = slot.everything_job
        if job is None or job.finished.is_set():
            return "Segment everything is not running."
        ended = job.cancel(wait_s)
        where = f" after {job.done} of {job.total} batches" if job.total else " before the first batch"
        return f"Segment everything cancelled{where}." + ("" if ended else " (stopping...)")

    def _write_everything_json(self, slot: ImageSlot) -> str:
        slot.files.clear("everything")  # the previous run's file is replaced
        return image_exports.write_everything_json(slot.state, lambda name: slot.files.path(name, "everything"))

    # ------------------------------------------------------------ model calls
    def ensure_embedding(self, slot: ImageSlot, progress: ProgressFn) -> Any:
        """The picture's embedding by the session's model, encoded once per picture and model
        (clicks, Find and a model switch reuse it)."""
        st = slot.state
        assert st.image is not None
        model_id = self.engine.ensure_model(slot.model_key, progress)
        if st.embedding is None or st.embedding.model_id != model_id:
            progress(None, "Encoding the image (once per image)...")
            st.embedding = self.engine.encode(model_id, st.image)
            slot.last_encode_s = st.embedding.seconds
        return st.embedding

    def predict_active(self, slot: ImageSlot, progress: ProgressFn) -> None:
        """Decode the active object's prompts when its candidates are missing (new prompts,
        or set aside while another object was edited: then the same pick is restored)."""
        obj = slot.state.current
        if not obj.history or (obj.prediction is not None and obj.prediction.complete):
            return
        keep = obj.chosen_before_aside if obj.prediction is not None else None
        emb = self.ensure_embedding(slot, progress)
        t0 = time.perf_counter()
        slot.state.set_prediction(self.engine.predict(emb, obj.prompts))
        slot.last_decode_s = time.perf_counter() - t0
        obj.chosen_before_aside = None
        if keep is not None and keep < obj.prediction.masks.shape[0]:  # type: ignore[union-attr]
            obj.chosen = keep

    def _predict_all(self, slot: ImageSlot, progress: ProgressFn) -> None:
        st = slot.state
        active = st.active
        try:
            for i, obj in enumerate(st.objects):
                if obj.history and obj.prediction is None:
                    st.active = i
                    self.predict_active(slot, progress)
                    if i != active:
                        obj.set_aside()
        finally:
            st.active = active

    # ------------------------------------------------------------ rendering
    def view_of(self, slot: ImageSlot, note: str = "") -> View:
        """What the action answers: the session as this controller's renderer shows it."""
        return self.render(slot, note)

