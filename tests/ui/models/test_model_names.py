"""ui.models.names: every spelling of the nine models resolves to its Hub id."""

import pytest

from ui.models.names import default_model_id, model_choices, model_ids, model_label, resolve_model_id


@pytest.mark.parametrize("name, expected", [
    ("facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-tiny"),
    ("sam2.1-hiera-small", "facebook/sam2.1-hiera-small"),
    ("sam2_hiera_l", "facebook/sam2-hiera-large"),
    ("sam2_hiera_base_plus.pt", "facebook/sam2-hiera-base-plus"),
    ("configs/sam2.1/sam2.1_hiera_b+.yaml", "facebook/sam2.1-hiera-base-plus"),
    ("large", "facebook/sam2.1-hiera-large"),
])
def test_model_names_resolve(name, expected):
    assert resolve_model_id(name) == expected


def test_model_names_list_all_nine_and_reject_unknown():
    assert len(model_ids()) == 9 and model_ids()[0].startswith("facebook/sam2.1")
    assert model_ids()[4] == "facebook/EdgeTAM" and model_label("facebook/EdgeTAM") == "EdgeTAM"
    assert resolve_model_id("edgetam") == resolve_model_id("EdgeTAM") == "facebook/EdgeTAM"
    assert ("SAM 2 · base-plus", "facebook/sam2-hiera-base-plus") in model_choices()
    assert model_label("facebook/sam2.1-hiera-large") == "SAM 2.1 · large"
    assert default_model_id("cpu").endswith("tiny") and default_model_id("cuda:0").endswith("large")
    with pytest.raises(ValueError, match="unknown model"):
        resolve_model_id("sam3-huge")
