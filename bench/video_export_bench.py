"""Full-fidelity video export: seconds for the four downloads of a 720p 30 fps clip with sound.

The clip (synthetic: three moving ellipses, ``video_bench.iter_synthetic_clip``, plus a
440 Hz tone) is loaded within the CPU limits (854x480, 15 fps), each processed frame gets
the three ellipses as masks (no model: this measures the export alone), and
``make_exports`` writes the MP4 with sound, masks zip, COCO and boxes at 1280x720, 30 fps.

    python -m bench.video_export_bench [--seconds 2] [--effect overlay]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--effect", default="overlay")
    args = parser.parse_args()

    import imageio_ffmpeg
    import numpy as np

    from bench.video_bench import iter_synthetic_clip
    from sam2.media.mp4 import write_mp4
    from ui.video.export_run import ExportPaths, make_exports
    from ui.video.exports import ClipExport, ObjectInfo
    from ui.video.media import VideoLimits, decode_clip
    from ui.video.state import MaskStore

    tmp = tempfile.mkdtemp(prefix="export_bench_")
    n = int(round(args.seconds * 30))
    silent = write_mp4(os.path.join(tmp, "silent.mp4"), iter_synthetic_clip(n), fps=30)
    src = os.path.join(tmp, "clip.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", silent, "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100", "-c:v", "copy", "-c:a", "aac", "-shortest", src],
                   check=True)
    clip = decode_clip(src, VideoLimits())
    store = MaskStore()
    colours = ((230, 40, 40), (40, 200, 60), (40, 80, 230))
    sy, sx = clip.height / 720, clip.width / 1280
    yy, xx = np.mgrid[0:clip.height, 0:clip.width]
    for i in range(clip.num_frames):  # the ellipses of source frame i * stride, at the processed size
        t = i * clip.source.stride
        for k in range(len(colours)):
            cx, cy = 250 + 350 * k + 6 * t, 360 + int(80 * np.sin(0.2 * t + k))
            store.put(i, k + 1, ((xx / sx - cx) / 110.0) ** 2 + ((yy / sy - cy) / 80.0) ** 2 <= 1.0)
    objects = [ObjectInfo(k + 1, f"ellipse {k + 1}", c, (0,)) for k, c in enumerate(colours)]
    export = ClipExport("clip.mp4", clip.num_frames, clip.height, clip.width, clip.fps, objects, store,
                        clip.source_size, clip.source_fps)
    paths = ExportPaths(*(os.path.join(tmp, f"out_{s}") for s in ("video.mp4", "masks.zip", "coco.json", "boxes.json")))
    import resource

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    result = make_exports(export, clip.source, lambda f: clip.frames[f], args.effect, paths, lambda *_: None)
    took = time.perf_counter() - t0
    print(f"processed: {clip.num_frames} frames of {clip.width}x{clip.height} at {clip.fps:g} fps")
    print(f"exported:  {result.num_frames} frames of {result.width}x{result.height} at {result.fps:g} fps, "
          f"sound={result.audio}, effect={args.effect}, 3 objects")
    print(f"time: {took:.2f} s ({1000 * took / result.num_frames:.0f} ms per frame)")
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss0:.0f} MB before the export, {rss1:.0f} MB after")
    for p in paths.as_list():
        print(f"  {os.path.basename(p)}: {os.path.getsize(p) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
