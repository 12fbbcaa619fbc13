"""A small app around ``PromptCanvas`` with stand-in handlers (no model): for the browser tests,
for ``bench/canvas_latency.py`` (the component's own click-to-visible overhead), and to try it::

    python -m ui.canvas.demo --port 7861

The image canvas opens a synthetic 1800x1200 picture; a click answers at once with a disc
mask around the click, a box with the box's rectangle, as a real tab would answer with the
predictor's mask. The video canvas opens a 10-frame clip of a moving square; *Track* streams
one mask per frame. Every event is appended to ``Recorder.events`` as (name, payload).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import gradio as gr
import numpy as np

from ui.canvas.component import PromptCanvas
from ui.canvas.events import (
    BoxEvent, CanvasPayloadError, IndexEvent, ObjectEvent, PointEvent, StrokeEvent, UploadEvent, event_data,
)
from ui.canvas.scene import (
    CanvasObject, CanvasUpdate, display_hw, file_ref, label_map_png, mask_png, picture_url, preparing_for,
)

IMAGE_WH = (1800, 1200)
CLIP_WH = (480, 270)
CLIP_FRAMES = 10
CLIP_FPS = 5.0


def sample_picture(w: int = IMAGE_WH[0], h: int = IMAGE_WH[1]) -> np.ndarray:
    """A non-square picture with a few flat shapes on a gradient (deterministic)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([80 + 60 * xx / w, 90 + 50 * yy / h, np.full((h, w), 120.0)], -1)
    img[((xx - 0.25 * w) ** 2 + (yy - 0.4 * h) ** 2) < (0.12 * h) ** 2] = (220, 40, 40)
    img[(abs(xx - 0.65 * w) < 0.12 * w) & (abs(yy - 0.35 * h) < 0.15 * h)] = (40, 200, 80)
    img[(abs(xx - 0.5 * w) < 0.3 * w) & (abs(yy - 0.8 * h) < 0.06 * h)] = (240, 220, 60)
    return img.astype(np.uint8)


def sample_clip() -> List[np.ndarray]:
    """``CLIP_FRAMES`` frames of a white square moving right over a dark background."""
    w, h = CLIP_WH
    frames = []
    for t in range(CLIP_FRAMES):
        f = np.full((h, w, 3), 30, np.uint8)
        x0 = 40 + t * 35
        f[100:170, x0:x0 + 70] = 235
        frames.append(f)
    return frames


def clip_files() -> List[str]:
    """The clip's frames as JPEG files in a temp folder (a tab's decoded frames live on disk too)."""
    from PIL import Image

    folder = tempfile.mkdtemp(prefix="canvas_demo_clip_")
    paths = []
    for t, f in enumerate(sample_clip()):
        paths.append(os.path.join(folder, f"{t:05d}.jpg"))
        Image.fromarray(f).save(paths[-1], quality=85)
    return paths


def clip_mask(t: int) -> np.ndarray:
    m = np.zeros(CLIP_WH[::-1], bool)
    x0 = 40 + t * 35
    m[100:170, x0:x0 + 70] = True
    return m


@dataclass
class DemoScene:
    """Per-session stand-in for a tab's state: objects and their prompts on frame 0 / any frame."""

    kind: str = "image"
    width: int = 0
    height: int = 0
    objects: List[int] = field(default_factory=list)
    selected: Optional[int] = None
    prompts: Dict[Tuple[int, int], Dict[str, Any]] = field(default_factory=dict)
    regions: List[np.ndarray] = field(default_factory=list)
    #: Cleared while a stand-in "encoding" runs: gestures wait for it, as a tab's click waits
    #: for the session lock its prepare step holds.
    ready: "_Ready" = field(default_factory=lambda: _Ready())

    def canvas_objects(self) -> List[CanvasObject]:
        return [CanvasObject.numbered(o, i) for i, o in enumerate(self.objects)]

    def color(self, object_id: int) -> str:
        return CanvasObject.numbered(object_id, self.objects.index(object_id)).color

    def new_object(self) -> int:
        oid = max(self.objects, default=0) + 1
        self.objects.append(oid)
        self.selected = oid
        return oid


class _Ready(threading.Event):
    """A set event that Gradio can deep-copy (it copies a ``gr.State`` default per session)."""

    def __init__(self) -> None:
        super().__init__()
        self.set()

    def __deepcopy__(self, memo: Any) -> "_Ready":
        return _Ready()


#: The video tab passes ``ui.video.render.EFFECT_CHOICES``; the demo (below the tabs) names them itself.
DEMO_EFFECTS = (("Overlay", "overlay"), ("Highlight", "highlight"), ("Cut out", "cutout"),
                ("Blurred background", "blur"), ("Pixelate", "pixelate"), ("Erase", "erase"))

#: How long the stand-in "encoding" of "Sample picture (slow encode)" takes.
SLOW_ENCODE_S = 2.0


class Recorder:
    """Collects (event name, payload dict) as the handlers receive them; thread-safe."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Dict[str, Any]]] = []
        self._lock = threading.Lock()

    def add(self, name: str, evt: Any) -> Dict[str, Any]:
        data = dict(event_data(evt))
        with self._lock:
            self.events.append((name, data))
        return data

    def named(self, name: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [d for n, d in self.events if n == name]


def _stand_in_mask(scene: DemoScene, p: Dict[str, Any]) -> np.ndarray:
    """The box, plus a disc around each foreground point, minus one around each background
    point: what a predictor would answer, at once (each disc costs only its own square)."""
    h, w = display_hw(scene.height, scene.width)
    s = w / scene.width
    m = np.zeros((h, w), bool)
    if p.get("box") is not None:
        x0, y0, x1, y1 = (int(round(v * s)) for v in p["box"])
        m[y0:y1 + 1, x0:x1 + 1] = True
    r = int(0.08 * min(h, w))
    for x, y, label in p.get("points", []):
        cx, cy = int(x * s), int(y * s)
        ys, xs = slice(max(0, cy - r), cy + r + 1), slice(max(0, cx - r), cx + r + 1)
        yy, xx = np.ogrid[ys, xs]
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        m[ys, xs] = (m[ys, xs] | disc) if label == 1 else (m[ys, xs] & ~disc)
    for points, radius, erase in p.get("strokes", []):  # brush / eraser, after the "prediction"
        from PIL import Image, ImageDraw

        layer = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(layer)
        pts = [(x * s, y * s) for x, y in points]
        rr = radius * s
        if len(pts) > 1:
            draw.line(pts, fill=255, width=max(1, int(round(2 * rr))), joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=255)
        painted = np.asarray(layer) > 0
        m = (m & ~painted) if erase else (m | painted)
    return m


def _answer(scene: DemoScene, frame: int, oid: int, ack: Optional[int] = None, **kw: Any) -> Dict[str, Any]:
    p = scene.prompts.get((frame, oid), {"points": [], "box": None})
    if not p["points"] and p["box"] is None and not p.get("strokes"):
        url = None
    else:
        url = mask_png(_stand_in_mask(scene, p), scene.color(oid), display_hw(scene.height, scene.width))
    cands = None
    if url is not None:
        cands = [{"url": url, "score": 0.95}, {"url": url, "score": 0.81}, {"url": url, "score": 0.62}]
    return CanvasUpdate(objects=scene.canvas_objects(), selected=scene.selected, masks={frame: {oid: url}},
                        prompts={frame: {oid: p}}, candidates=cands, candidate=0 if cands else None,
                        ack=ack, **kw).to_value()


def build_demo(recorder: Optional[Recorder] = None) -> gr.Blocks:
    rec = recorder or Recorder()
    with gr.Blocks(title="PromptCanvas demo") as demo:
        gr.Markdown("### PromptCanvas demo (stand-in handlers, no model)")
        image_state = gr.State(lambda: DemoScene())
        video_state = gr.State(lambda: DemoScene(kind="video"))
        image = PromptCanvas(mode="image", elem_id="demo-image")
        with gr.Row():
            load_image = gr.Button("Sample picture", elem_id="demo-load-image")
            load_slow = gr.Button("Sample picture (slow encode)", elem_id="demo-load-slow")
            everything = gr.Button("Segment everything (stand-in)", elem_id="demo-everything")
            busy = gr.Checkbox(label="busy", elem_id="demo-busy")
        video = PromptCanvas(mode="video", elem_id="demo-video", max_height="50vh", effects=DEMO_EFFECTS)
        with gr.Row():
            load_clip = gr.Button("Sample clip", elem_id="demo-load-clip")
            track = gr.Button("Track", elem_id="demo-track")
        status = gr.Textbox(label="last event", elem_id="demo-status")

        def open_picture(scene: DemoScene, preparing: Optional[Dict[str, Any]] = None):
            scene.__init__()
            pic = sample_picture()
            scene.width, scene.height = IMAGE_WH
            return CanvasUpdate.image(picture_url(pic), *IMAGE_WH, objects=[], selected=None,
                                      candidates=[], preparing=preparing).to_value(), scene

        def open_picture_slowly(scene: DemoScene):
            """The picture at once with "Preparing image…", then the stand-in encoding."""
            update, scene = open_picture(scene, preparing_for("image", SLOW_ENCODE_S))
            scene.ready.clear()
            yield update, scene
            time.sleep(SLOW_ENCODE_S)
            scene.ready.set()
            yield CanvasUpdate(preparing={}, hint="Ready").to_value(), scene

        def on_point(scene: DemoScene, evt: gr.EventData):
            scene.ready.wait(30)
            d = rec.add("point", evt)
            p = PointEvent.parse(evt, (scene.width, scene.height))
            oid = scene.selected if scene.selected is not None else scene.new_object()
            pr = scene.prompts.setdefault((p.frame, oid), {"points": [], "box": None})
            pr["points"].append(list(p.as_point))
            return _answer(scene, p.frame, oid, ack=p.seq), f"point {d}"

        def on_box(scene: DemoScene, evt: gr.EventData):
            d = rec.add("box", evt)
            b = BoxEvent.parse(evt, (scene.width, scene.height))
            oid = scene.selected if scene.selected is not None else scene.new_object()
            pr = scene.prompts.setdefault((b.frame, oid), {"points": [], "box": None})
            pr["box"] = list(b.as_box)
            return _answer(scene, b.frame, oid, ack=b.seq), f"box {d}"

        def on_stroke(scene: DemoScene, evt: gr.EventData):
            d = rec.add("stroke", evt)
            st = StrokeEvent.parse(evt, (scene.width, scene.height))
            if scene.selected is None:
                return CanvasUpdate(hint="Click on an object first", ack=st.seq).to_value(), f"stroke {d}"
            pr = scene.prompts.setdefault((st.frame, scene.selected), {"points": [], "box": None})
            pr.setdefault("strokes", []).append((st.points, st.radius, st.erase))
            return _answer(scene, st.frame, scene.selected, ack=st.seq), f"stroke {d}"

        def on_undo(scene: DemoScene, evt: gr.EventData):
            d = rec.add("undo", evt)
            o = ObjectEvent.parse(evt)
            oid = o.object_id if o.object_id is not None else scene.selected
            pr = scene.prompts.get((o.frame, oid))
            if not pr or (not pr["points"] and pr["box"] is None and not pr.get("strokes")):
                return CanvasUpdate(hint="Nothing to undo").to_value(), f"undo {d}"
            if pr.get("strokes"):
                pr["strokes"].pop()
            elif pr["points"]:
                pr["points"].pop()
            else:
                pr["box"] = None
            return _answer(scene, o.frame, oid), f"undo {d}"

        def on_new(scene: DemoScene, evt: gr.EventData):
            d = rec.add("new_object", evt)
            oid = scene.new_object()
            return CanvasUpdate(objects=scene.canvas_objects(), selected=oid, candidates=[],
                                hint=f"object {oid}: click it").to_value(), f"new_object {d}"

        def on_candidate(scene: DemoScene, evt: gr.EventData):
            d = rec.add("candidate", evt)
            c = IndexEvent.parse(evt, upper=3)
            return CanvasUpdate(candidate=c.index).to_value(), f"candidate {d}"

        def on_delete(scene: DemoScene, evt: gr.EventData):
            d = rec.add("delete_object", evt)
            o = ObjectEvent.parse(evt)
            if o.object_id in scene.objects:
                scene.objects.remove(o.object_id)
            scene.selected = scene.objects[-1] if scene.objects else None
            masks = {f: {o.object_id: None} for (f, oid) in list(scene.prompts) if oid == o.object_id}
            for key in [k for k in scene.prompts if k[1] == o.object_id]:
                del scene.prompts[key]
            return CanvasUpdate(objects=scene.canvas_objects(), selected=scene.selected, masks=masks,
                                candidates=[]).to_value(), f"delete_object {d}"

        def on_select(scene: DemoScene, evt: gr.EventData):
            d = rec.add("select_object", evt)
            o = ObjectEvent.parse(evt)
            if o.object_id in scene.objects:
                scene.selected = o.object_id
            return gr.skip(), f"select_object {d}"

        def on_everything(scene: DemoScene):
            if not scene.width:
                return CanvasUpdate(hint="Open a picture first").to_value(), scene
            h, w = display_hw(scene.height, scene.width)
            yy, xx = np.mgrid[0:h, 0:w]
            scene.regions = [(xx < w // 3), (xx >= w // 3) & (yy < h // 2), (xx >= w // 3) & (yy >= h // 2)]
            return CanvasUpdate(regions={"url": label_map_png(scene.regions), "count": 3}).to_value(), scene

        def on_pick(scene: DemoScene, evt: gr.EventData):
            d = rec.add("pick_region", evt)
            r = IndexEvent.parse(evt, upper=len(scene.regions) or None)
            oid = scene.new_object()
            url = mask_png(scene.regions[r.index], scene.color(oid)) if scene.regions else None
            return CanvasUpdate(objects=scene.canvas_objects(), selected=oid, masks={0: {oid: url}},
                                regions={}).to_value(), f"pick_region {d}"

        def on_seek(scene: DemoScene, evt: gr.EventData):
            d = rec.add("seek", evt)
            return f"seek {d}"

        def on_upload(scene: DemoScene, evt: gr.EventData):
            d = rec.add("upload", evt)
            try:
                u = UploadEvent.parse(evt)
            except CanvasPayloadError as e:
                return CanvasUpdate(hint=str(e)).to_value(), f"upload refused {d}"
            from PIL import Image, ImageOps
            try:
                pic = np.asarray(ImageOps.exif_transpose(Image.open(u.path)).convert("RGB"))
            except (OSError, ValueError):
                return CanvasUpdate(hint=f"Could not read {u.name} as an image").to_value(), "upload unreadable"
            scene.__init__()
            scene.height, scene.width = pic.shape[:2]
            return CanvasUpdate.image(picture_url(pic), scene.width, scene.height, objects=[],
                                      selected=None, candidates=[]).to_value(), f"upload {u.name}"

        def open_clip(scene: DemoScene):
            scene.__init__(kind="video")
            scene.width, scene.height = CLIP_WH
            oid = scene.new_object()
            frames = [file_ref(p) for p in clip_files()]  # served by Gradio, like a tab's decoded frames
            scene.prompts[(0, oid)] = {"points": [[75.0, 135.0, 1]], "box": None}
            return CanvasUpdate.clip(frames, CLIP_FPS, *CLIP_WH, objects=scene.canvas_objects(), selected=oid,
                                     prompts={0: {oid: scene.prompts[(0, oid)]}}).to_value(), scene

        def run_track(scene: DemoScene):
            if not scene.objects:
                yield CanvasUpdate(hint="Open the clip first").to_value()
                return
            oid = scene.objects[0]
            yield CanvasUpdate(busy="tracking is running, press Cancel to correct").to_value()
            for t in range(CLIP_FRAMES):
                time.sleep(0.05)
                yield CanvasUpdate(masks={t: {oid: mask_png(clip_mask(t), scene.color(oid))}}).to_value()
            yield CanvasUpdate(busy="", hint="Tracked 10 frames").to_value()

        def set_busy(flag: bool):
            return CanvasUpdate(busy="tracking is running, press Cancel to correct" if flag else "").to_value()

        load_image.click(open_picture, image_state, [image, image_state])
        load_slow.click(open_picture_slowly, image_state, [image, image_state])
        demo.load(open_picture, image_state, [image, image_state])
        demo.load(open_clip, video_state, [video, video_state])
        everything.click(on_everything, image_state, [image, image_state])
        busy.change(set_busy, busy, image)
        load_clip.click(open_clip, video_state, [video, video_state])
        track.click(run_track, video_state, video)
        # Every gesture and key counts (trigger_mode="multiple": none is dropped while another
        # is answered) and one concurrency group answers them in the order they were made.
        ordered = dict(trigger_mode="multiple", concurrency_id="canvas", concurrency_limit=1,
                       api_visibility="private")
        for canvas, state in ((image, image_state), (video, video_state)):
            canvas.point(on_point, state, [canvas, status], **ordered)
            canvas.box(on_box, state, [canvas, status], **ordered)
            canvas.stroke(on_stroke, state, [canvas, status], **ordered)
            canvas.undo(on_undo, state, [canvas, status], **ordered)
            canvas.new_object(on_new, state, [canvas, status], **ordered)
            canvas.candidate(on_candidate, state, [canvas, status], **ordered)
            canvas.delete_object(on_delete, state, [canvas, status], **ordered)
            canvas.select_object(on_select, state, [canvas, status], **ordered)
            canvas.seek(on_seek, state, status, **ordered)
        image.pick_region(on_pick, image_state, [image, status], **ordered)
        image.upload(on_upload, image_state, [image, status], **ordered)
    demo.recorder = rec  # type: ignore[attr-defined]
    return demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=7861)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    build_demo().queue().launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
