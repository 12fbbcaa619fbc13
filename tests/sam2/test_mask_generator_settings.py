"""The generator settings the app and the batch command share."""

import inspect

import pytest

from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.mask_generator_settings import MaskGeneratorSettings


def test_defaults_are_the_generators_own_and_every_field_is_one_of_its_arguments():
    params = inspect.signature(SAM2AutomaticMaskGenerator.__init__).parameters
    for name, value in MaskGeneratorSettings().generator_kwargs().items():
        assert name in params, name
        assert params[name].default == value, (name, params[name].default, value)


@pytest.mark.parametrize("change, words", [
    ({"points_per_side": 0}, "points per side"), ({"points_per_batch": 2000}, "points per batch"),
    ({"pred_iou_thresh": 1.5}, "pred iou thresh"), ({"crop_n_layers": 4}, "crop layers"),
    ({"min_mask_region_area": -1}, "minimum region area"),
])
def test_out_of_range_knobs_are_named(change, words):
    with pytest.raises(ValueError, match=words):
        MaskGeneratorSettings(**change).validated()


def test_crops_and_prompts_count_the_grid_over_every_crop():
    s = MaskGeneratorSettings(points_per_side=8, crop_n_layers=2)
    assert s.crops == 1 + 4 + 16 and s.prompts == 64 * 21
