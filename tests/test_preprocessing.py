"""preprocessing_fn through real tf.Transform, and the train-only augmentation."""
import io

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from PIL import Image
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.trainer.augment import augment_image
from components.transform.preprocessing import preprocessing_fn
from schemas import features
from schemas.config import AugmentConfig

SIZE = 24


def encode(array, fmt, **save_args):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **save_args)
    return buf.getvalue()


def sample_images():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    white = np.full((17, 23, 3), 255, np.uint8)
    return {
        "jpeg": encode(rgb, "JPEG", quality=95),
        "png_rgb": encode(rgb, "PNG"),
        "png_gray": encode(rng.integers(0, 256, (20, 20), dtype=np.uint8), "PNG"),
        "png_rgba": encode(rng.integers(0, 256, (20, 25, 4), dtype=np.uint8), "PNG"),
        "gif": encode(rgb, "GIF"),
        "bmp": encode(rgb, "BMP"),
        "png_white": encode(white, "PNG"),
    }


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    images = sample_images()
    raw = [{features.IMAGE_KEY: [data], features.LABEL_KEY: [i]} for i, data in enumerate(images.values())]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        features.IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string),
        features.LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64),
    }))
    fn = lambda inputs: preprocessing_fn(inputs, {"image_size": SIZE})  # noqa: E731
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft")), force_tf_compat_v1=False):
        (out, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(fn)
    return dict(zip(images, out))


def test_every_format_becomes_a_float_rgb_image_of_the_configured_size(transformed):
    for name, row in transformed.items():
        image = np.asarray(row[features.IMAGE_XF_KEY], np.float32).reshape(-1)
        assert image.size == SIZE * SIZE * 3, name


def test_pixels_are_scaled_to_unit_range_not_left_at_0_255(transformed):
    for name, row in transformed.items():
        image = np.asarray(row[features.IMAGE_XF_KEY])
        assert image.min() >= 0.0 and image.max() <= 1.0, name
    white = np.asarray(transformed["png_white"][features.IMAGE_XF_KEY])
    assert np.allclose(white, 1.0, atol=1e-5)
    noisy = np.asarray(transformed["png_rgb"][features.IMAGE_XF_KEY])
    assert noisy.max() > 0.5 and noisy.std() > 0.05


def test_grayscale_is_replicated_into_three_equal_channels(transformed):
    image = np.asarray(transformed["png_gray"][features.IMAGE_XF_KEY]).reshape(SIZE, SIZE, 3)
    assert np.allclose(image[..., 0], image[..., 1]) and np.allclose(image[..., 1], image[..., 2])


def test_label_passes_through_unchanged(transformed):
    assert [int(np.asarray(r[features.LABEL_XF_KEY]).reshape(-1)[0]) for r in transformed.values()] \
        == list(range(len(transformed)))


def test_augmentation_keeps_shape_and_range_and_changes_pixels():
    image = tf.random.stateless_uniform([SIZE, SIZE, 3], seed=[1, 2])
    tf.random.set_seed(0)
    out = augment_image(image, AugmentConfig(brightness=0.5))
    assert out.shape == image.shape and out.dtype == tf.float32
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    assert not np.allclose(out.numpy(), image.numpy())


def test_brightness_then_contrast_is_one_affine_map_per_image_with_drawn_values_in_range():
    """Brightness adds one delta d to an image, then contrast scales each channel about its mean m by one factor f:
    y = (x - m) * f + m + d. Recovered from the output by least squares per image and channel, f is in
    [contrast_lower, contrast_upper] and shared by the channels, d in [-brightness, brightness], and the images
    of one batch draw their own values. Values stay mid-range so the final clip to [0, 1] does not bite."""
    from components.trainer.augment import augment_batch
    images = 0.35 + 0.3 * tf.random.stateless_uniform([8, SIZE, SIZE, 3], seed=[5, 6])
    cfg = AugmentConfig(flip_left_right=False, flip_up_down=False, brightness=0.1, contrast_lower=0.8,
                        contrast_upper=1.2, rotation_degrees=0.0, zoom=0.0, shift=0.0)
    tf.random.set_seed(1)
    out, x = augment_batch(images, cfg).numpy(), images.numpy()
    factors, deltas = [], []
    for i in range(len(x)):
        per_channel = []
        for c in range(3):
            f, intercept = np.polyfit(x[i, ..., c].ravel(), out[i, ..., c].ravel(), 1)
            mean = x[i, ..., c].mean()
            per_channel.append((f, intercept - mean * (1 - f)))  # intercept = m * (1 - f) + d
        (f0, d0), rest = per_channel[0], per_channel[1:]
        assert all(abs(f - f0) < 1e-4 and abs(d - d0) < 1e-4 for f, d in rest)
        factors.append(f0)
        deltas.append(d0)
    assert all(0.8 - 1e-4 <= f <= 1.2 + 1e-4 for f in factors) and all(abs(d) <= 0.1 + 1e-4 for d in deltas)
    assert np.ptp(factors) > 0.01 and np.ptp(deltas) > 0.01


def test_augmentation_switched_off_is_the_identity():
    image = tf.random.stateless_uniform([SIZE, SIZE, 3], seed=[3, 4])
    off = AugmentConfig(flip_left_right=False, flip_up_down=False, brightness=0.0,
                        contrast_lower=1.0, contrast_upper=1.0, rotation_degrees=0.0, zoom=0.0, shift=0.0)
    assert np.allclose(augment_image(image, off).numpy(), image.numpy())


def test_augmentation_runs_in_the_training_step_only_and_trains_the_exported_network():
    """training_model(): the augmentation is a layer in front of the network that acts only in fit()'s training
    step. Called with training=False (validation, predict) it is the network; fitting it moves the network's own
    weights (what run_fn exports, with no augmentation in it); all knobs off, it is the network itself; and the
    input pipeline (batches()) now hands over the images untouched."""
    import tf_keras as keras

    from components.trainer.augment import AUGMENTATION_LAYER, training_model
    from components.trainer.train import batches
    from schemas.config import build_config

    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    network = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs)))
    cfg = AugmentConfig(brightness=0.5, rotation_degrees=30.0, full_strength_size=SIZE)
    model = training_model(network, cfg)
    images = 0.25 + 0.5 * tf.random.stateless_uniform([6, SIZE, SIZE, 3], seed=[7, 8])
    augmentation = model.get_layer(AUGMENTATION_LAYER)
    assert np.allclose(augmentation(images, training=False).numpy(), images.numpy())
    assert not np.allclose(augmentation(images, training=True).numpy(), images.numpy(), atol=1e-3)
    assert np.allclose(model(images, training=False).numpy(), network(images).numpy())
    assert [v.name for v in model.trainable_variables] == [v.name for v in network.trainable_variables]
    before = [w.copy() for w in network.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(images, tf.one_hot([0, 1, 0, 1, 0, 1], 2), epochs=2, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(before, network.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), network.get_weights()))
    assert AUGMENTATION_LAYER not in [layer.name for layer in network.layers]
    off = AugmentConfig(flip_left_right=False, flip_up_down=False, brightness=0.0, contrast_lower=1.0,
                        contrast_upper=1.0, rotation_degrees=0.0, zoom=0.0, shift=0.0)
    assert training_model(network, off) is network
    rebuilt = keras.models.model_from_json(model.to_json())  # its config round-trips (TensorBoard writes it)
    assert rebuilt.get_layer(AUGMENTATION_LAYER).cfg == cfg

    ds = tf.data.Dataset.from_tensor_slices((images, tf.one_hot(np.arange(6) % 2, 2)))
    delivered = np.concatenate([x.numpy() for x, _ in batches(ds, build_config(), training=True)])
    assert sorted(float(x.sum()) for x in delivered) == pytest.approx(sorted(float(x.sum()) for x in images.numpy()))


def test_shift_moves_the_content_by_at_most_the_limit_and_keeps_its_shape():
    """A 4x4 bright square in the middle of a 32 px image moves by whole-image shifts of at most 10% (3.2 px)."""
    image = np.zeros((32, 32, 3), np.float32)
    image[14:18, 14:18] = 1.0
    only_shift = AugmentConfig(brightness=0.0, contrast_lower=1.0, contrast_upper=1.0, rotation_degrees=0.0,
                               zoom=0.0, shift=0.1)
    moved = set()
    for seed in range(10):
        tf.random.set_seed(seed)
        out = augment_image(tf.constant(image), only_shift).numpy()[..., 0]
        rows, cols = np.indices(out.shape)
        dy, dx = (rows * out).sum() / out.sum() - 15.5, (cols * out).sum() / out.sum() - 15.5
        assert max(abs(dy), abs(dx)) <= 3.2 + 1e-3 and out.sum() == pytest.approx(16.0, rel=1e-3)
        moved.add((round(dy), round(dx)))
    assert len(moved) > 3  # it really moves, in different directions


def test_rotation_turns_pixels_about_the_exact_centre():
    """A lone pixel at the centre stays there, whole; one 8 px right of it keeps its distance and turns.

    Sharp: a centre a quarter pixel off leaves 0.90 of the centre pixel there; a zoom changes the distance."""
    size, centre, radius = 25, 12, 8
    image = np.zeros((size, size, 3), np.float32)
    image[centre, centre, 0] = 1.0
    image[centre, centre + radius, 1] = 1.0
    only_rotate = AugmentConfig(flip_left_right=False, brightness=0.0, contrast_lower=1.0,
                                contrast_upper=1.0, rotation_degrees=30.0, zoom=0.0, shift=0.0, full_strength_size=size)
    tf.random.set_seed(7)
    out = augment_image(tf.constant(image), only_rotate).numpy()
    assert out[centre, centre, 0] == pytest.approx(1.0, abs=1e-4)
    rows, cols = np.indices((size, size))
    mass = out[..., 1]
    dy, dx = (rows * mass).sum() / mass.sum() - centre, (cols * mass).sum() / mass.sum() - centre
    assert np.hypot(dx, dy) == pytest.approx(radius, abs=0.15)
    assert 10 <= abs(np.degrees(np.arctan2(dy, dx))) <= 30  # turned, by no more than the limit


def test_rotation_and_zoom_are_gentler_on_small_images():
    """Full strength from augment.full_strength_size up (here 64 px); in proportion below it."""
    from components.trainer.augment import geometric_strength
    assert [geometric_strength(size, 64) for size in (16, 32, 64, 224)] == [0.25, 0.5, 1.0, 1.0]


def test_every_size_auto_picks_gets_full_rotation_and_zoom_by_default():
    """The default full_strength_size is data.image_size=auto's floor: 28 px digits get the configured rotation
    and zoom in full (at 0.44 of it, the default before, real MNIST digits scored lower: docs/real_data.md)."""
    from components.trainer.augment import geometric_strength
    from schemas.config import AugmentConfig, DataConfig
    floor = DataConfig().image_size_auto_min
    assert AugmentConfig().full_strength_size == floor
    assert geometric_strength(floor, AugmentConfig().full_strength_size) == 1.0
    assert geometric_strength(floor // 2, AugmentConfig().full_strength_size) == 0.5  # set below the floor by hand


def test_the_default_augmentation_never_mirrors():
    """An asymmetric image (bright left half) keeps its bright side under the defaults, however often drawn."""
    image = np.zeros([SIZE, SIZE, 3], np.float32)
    image[:, : SIZE // 2] = 1.0
    defaults = AugmentConfig()
    for seed in range(20):
        tf.random.set_seed(seed)
        out = augment_image(tf.constant(image), defaults).numpy()
        assert out[:, : SIZE // 4].mean() > out[:, -SIZE // 4:].mean()
