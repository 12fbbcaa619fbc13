"""ui.common.overlay: masks and prompts drawn over a picture (server-side pictures and exports)."""

import numpy as np

from ui.canvas import raster
from ui.common import overlay


def test_blend_tints_only_inside_mask_and_draws_outline():
    base = np.full((40, 50, 3), 100, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:30, 10:40] = True
    out = overlay.blend_masks(base, [(mask, (255, 0, 0))], alpha=0.5)
    assert (out[0, 0] == 100).all()  # outside untouched
    assert tuple(out[20, 25]) == (178, 50, 50)  # inside blended
    assert tuple(out[10, 25]) == (255, 0, 0)  # outline in full colour
    # Masks at original size are resized to the display size.
    small = overlay.blend_masks(np.full((20, 25, 3), 100, np.uint8), [(mask, (0, 255, 0))])
    assert small[10, 12, 1] > 100 and small[0, 0, 1] == 100


def test_draw_prompts_colours_points_and_box():
    disp = raster.make_display(np.full((200, 200, 3), 128, np.uint8))
    out = overlay.draw_prompts(disp.pixels, disp, points=[(50, 50, 1), (150, 150, 0)],
                               box=(20, 100, 80, 180), box_color=(255, 255, 0))
    assert tuple(out[50, 50]) == raster.FOREGROUND_RGB
    assert tuple(out[150, 150]) == raster.BACKGROUND_RGB
    assert tuple(out[140, 20]) == (255, 255, 0)  # left edge of the box
    assert tuple(out[5, 5]) == (128, 128, 128)


def test_colorize_everything_gives_each_mask_a_colour():
    base = np.zeros((30, 30, 3), np.uint8)
    a = np.zeros((30, 30), bool); a[:, :15] = True
    b = np.zeros((30, 30), bool); b[5:10, 20:25] = True
    out = overlay.colorize_everything(base, [a, b])
    assert out[15, 5].any() and out[7, 22].any() and not out[20, 20].any()
    assert not np.array_equal(out[15, 5], out[7, 22])
