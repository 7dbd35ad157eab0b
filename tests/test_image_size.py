"""data.image_size=auto: the rule that picks the side from the ingested images, and what it reports."""
import pytest

from components.transform.image_size import auto_size, choose_image_size, median_short_side


def test_median_short_side_reads_the_manifest_histogram_with_string_keys():
    assert median_short_side({"28": 8000}) == 28
    assert median_short_side({"20": 3, "640": 1}) == 20          # a few large photos do not move it
    assert median_short_side({"16": 1, "32": 1, "48": 2}) == 32  # even count: the lower middle
    assert median_short_side({}) == 0


@pytest.mark.parametrize("median, expected", [
    (28, 28),    # MNIST-like digits: kept at their own size
    (27, 28),    # rounded UP to a multiple of 4, never below the images' own size
    (32, 32),
    (48, 48),    # the demo's shapes
    (8, 16),     # sklearn digits: clamped up to the smallest size the default model handles
    (427, 128),  # photos: capped for cost
    (100, 100),
    (101, 104),
])
def test_auto_size_rounds_up_to_a_multiple_of_4_and_clamps(median, expected):
    assert auto_size(median, 16, 128) == expected


def test_auto_uses_the_rule_and_an_explicit_integer_wins():
    auto = choose_image_size("auto", {"26": 900, "30": 100}, 16, 128)
    assert (auto.size, auto.source, auto.median_short_side, auto.note) == (28, "auto", 26, "")
    fixed = choose_image_size(64, {"28": 900}, 16, 128)
    assert (fixed.size, fixed.source, fixed.median_short_side) == (64, "data.image_size", 28)


def test_heavy_upsampling_and_downsampling_are_reported_and_mild_resizing_is_not():
    up = choose_image_size(64, {"28": 10}, 16, 128).note
    assert up.startswith("images are upsampled 2.3x (median short side 28 px -> 64 px)")
    down = choose_image_size("auto", {"1024": 10}, 16, 128).note
    assert down.startswith("images are downsampled 8.0x (median short side 1024 px -> 128 px)")
    assert "data.image_size_auto_max" in down
    assert choose_image_size(56, {"28": 10}, 16, 128).note == ""     # exactly 2x: fine
    assert choose_image_size("auto", {"427": 2}, 16, 128).note == ""  # 3.3x down: fine


def test_auto_without_recorded_sizes_says_what_to_set():
    with pytest.raises(ValueError, match="set data.image_size to an integer"):
        choose_image_size("auto", {}, 16, 128)


def test_the_default_floor_lifts_tiny_images_to_28_px_and_says_so():
    """Measured (docs/real_data.md): 8x8 digits lost 0.8 points of accuracy at 16 px against 32-64 px;
    28 px, MNIST's own side, is the floor since small images keep a full-resolution stem."""
    from schemas.config import DataConfig
    data = DataConfig()
    choice = choose_image_size(data.image_size, {"8": 1797}, data.image_size_auto_min, data.image_size_auto_max)
    assert (choice.size, choice.source) == (28, "auto")
    assert choice.note.startswith("images are upsampled 3.5x (median short side 8 px -> 28 px)")
    assert "data.image_size_auto_min=28" in choice.note
    assert choose_image_size(data.image_size, {"20": 90}, 28, 128).note == ""  # 1.4x: not worth a line
