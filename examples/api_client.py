"""Use the running app from Python with ``gradio_client`` (the example shown in the README).

    python app.py &                      # or a Space: Client("user/space-name")
    python examples/api_client.py http://127.0.0.1:7860/ examples/shapes.png 230 260

Each ``Client`` is one session: the image loaded by ``/load_image`` stays for the calls
that follow. Coordinates are pixels of the original image (x to the right, y down).
"""

from __future__ import annotations

import json
import sys

from gradio_client import Client, handle_file


def main(url: str, image: str, x: float, y: float) -> None:
    client = Client(url, verbose=False)
    client.predict(handle_file(image), api_name="/load_image")

    # One foreground point; returns the overlay, the 3 candidates, the chosen one, objects, status.
    overlay, candidates, chosen, objects, status = client.predict(x, y, True, api_name="/add_point")
    print("overlay:", overlay)
    for c in candidates:
        print("candidate:", c["caption"])

    # Add a box around the same object, then keep the second candidate.
    client.predict(x - 50, y - 50, x + 50, y + 50, api_name="/add_box")
    client.predict(1, api_name="/pick_candidate")

    # Mask PNG, RGBA cutout PNG and COCO RLE JSON of everything segmented so far.
    files, _ = client.predict(api_name="/export")
    for f in files:
        print("download:", f)

    # Automatic "segment everything" with a coarse grid.
    canvas, summary, coco_json = client.predict(8, 0.5, 0.8, 0.7, 0, 0, api_name="/segment_everything")
    with open(coco_json) as fh:
        print(summary, "-", len(json.load(fh)["annotations"]), "masks in", coco_json)
    client.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
