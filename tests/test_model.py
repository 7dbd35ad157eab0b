"""Behaviour of components.trainer.model.build_model: each ModelConfig knob changes the network as documented."""
import numpy as np
import pytest
import tf_keras as keras

from components.trainer.model import build_model
from components.trainer.tf_runtime import skip_autograph_for_tf_keras
from schemas import features
from schemas.config import PRESETS, from_dict

NUM_CLASSES = 3

# tf_keras seeds its initialisers with random.randint(1, 1e9), which Python 3.10 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:non-integer arguments to randrange")


def model_for(image_size=32, num_classes=NUM_CLASSES, **model_keys):
    cfg = from_dict({"model": model_keys}).model
    return build_model(cfg, image_size, num_classes)


def types_of(layers):
    return [type(layer).__name__ for layer in layers]


def layers_of_type(model, type_name):
    return [layer for layer in model.layers if type(layer).__name__ == type_name]


def consumers(model, layer):
    """Layers that take `layer`'s output as (one of) their inputs."""
    def inputs(other):
        return other.input if isinstance(other.input, list) else [other.input]
    return [other for other in model.layers[1:] if any(t is layer.output for t in inputs(other))]


def chain_after(model, layer, length):
    """Types of the `length` layers that follow `layer`, always taking its first consumer."""
    chain = []
    for _ in range(length):
        layer = consumers(model, layer)[0]
        chain.append(type(layer).__name__)
    return chain


def seed_build_cnn(input_shape, num_classes):
    """The seed article's Example 1, verbatim but for `keras.` instead of `tf.keras.`: the reference."""
    def residual_block(x, filters, kernel_size=3):
        shortcut = x
        x = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, kernel_size, padding="same")(x)
        x = keras.layers.Add()([x, shortcut])
        return keras.layers.ReLU()(x)

    inputs = keras.layers.Input(shape=input_shape)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = residual_block(x, 32)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = residual_block(x, 64)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# --------------------------------------------------------------------------- presets

@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_maps_images_to_class_probabilities(preset):
    model = model_for(preset=preset, image_size=32)
    images = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype("float32")

    probabilities = model({features.IMAGE_XF_KEY: images}, training=False).numpy()

    assert model.input_names == [features.IMAGE_XF_KEY]
    assert probabilities.shape == (4, NUM_CLASSES)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("image_size", [32, 64])
def test_seed_preset_is_the_seed_articles_network_layer_for_layer(image_size):
    ours = model_for(preset="seed", image_size=image_size, num_classes=10)
    reference = seed_build_cnn((image_size, image_size, 3), 10)

    assert types_of(ours.layers) == types_of(reference.layers)
    assert [layer.output_shape for layer in ours.layers] == [layer.output_shape for layer in reference.layers]
    assert ours.count_params() == reference.count_params()
    for mine, theirs in zip(ours.layers[1:], reference.layers[1:]):
        mine_config, their_config = mine.get_config(), theirs.get_config()
        mine_config.pop("name"), their_config.pop("name")
        assert mine_config == their_config, mine.name


@pytest.mark.parametrize("batch_norm", ["none", "before_activation", "after_activation"])
@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_every_combination_of_structural_knobs_gives_a_working_model(batch_norm, downsample, padding):
    model = model_for(image_size=96, batch_norm=batch_norm, downsample=downsample, padding=padding,
                      stem_filters=16, stage_filters=[16, 32], stage_strides=[2, 2])

    probabilities = model(np.ones((2, 96, 96, 3), "float32"), training=False).numpy()

    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------- normalisation

def test_bn_before_activation_orders_conv_bn_relu_and_drops_the_conv_bias():
    model = model_for(batch_norm="before_activation")
    stem = model.get_layer("stem_conv")

    assert chain_after(model, stem, 2) == ["BatchNormalization", "ReLU"]
    assert not stem.use_bias
    last_conv = model.get_layer("stage1_block1_2_conv")
    assert chain_after(model, last_conv, 3) == ["BatchNormalization", "Add", "ReLU"]


def test_bn_after_activation_orders_conv_relu_bn_also_after_the_residual_add():
    model = model_for(batch_norm="after_activation")

    assert chain_after(model, model.get_layer("stem_conv"), 2) == ["ReLU", "BatchNormalization"]
    last_conv = model.get_layer("stage1_block1_2_conv")
    assert chain_after(model, last_conv, 3) == ["Add", "ReLU", "BatchNormalization"]


def test_bn_none_has_no_normalisation_and_relu_inside_the_conv():
    model = model_for(batch_norm="none")
    stem = model.get_layer("stem_conv")

    assert layers_of_type(model, "BatchNormalization") == []
    assert stem.get_config()["activation"] == "relu" and stem.use_bias
    assert chain_after(model, stem, 1) == ["Conv2D"], "no separate ReLU layer"


# --------------------------------------------------------------------------- residual structure

@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("stage_filters, blocks", [([16], 1), ([16, 32, 64], 1), ([16, 32], 3)])
def test_one_residual_add_per_block(downsample, stage_filters, blocks):
    model = model_for(downsample=downsample, stage_filters=stage_filters,
                      stage_strides=[2] * len(stage_filters), blocks_per_stage=blocks)

    assert len(layers_of_type(model, "Add")) == len(stage_filters) * blocks


def projections(model):
    return [layer for layer in layers_of_type(model, "Conv2D") if layer.kernel_size == (1, 1)]


@pytest.mark.parametrize("stage_filters, stage_strides, expected_stages", [
    ([32, 64, 128], [2, 2, 2], ["stage1", "stage2", "stage3"]),  # every stage halves the size
    ([32, 32], [1, 1], []),                                       # shape never changes
    ([32, 64], [1, 1], ["stage2"]),                               # only the width changes
    ([32, 32], [1, 2], ["stage2"]),                               # only the size changes
])
def test_projection_shortcut_exactly_where_the_block_changes_shape(stage_filters, stage_strides, expected_stages):
    model = model_for(stem_filters=32, stage_filters=stage_filters, stage_strides=stage_strides,
                      blocks_per_stage=2, downsample="stride")

    found = projections(model)

    assert sorted(layer.name.split("_")[0] for layer in found) == expected_stages
    assert all("block1" in layer.name for layer in found), "only a stage's first block changes shape"


def test_pool_downsampling_needs_no_projection_shortcut():
    model = model_for(downsample="pool", stage_filters=[32, 64, 128], stage_strides=[2, 2, 2])

    assert projections(model) == []
    assert len(layers_of_type(model, "MaxPooling2D")) == 3


@pytest.mark.parametrize("kernel", [5, 7])
@pytest.mark.parametrize("stride", [1, 2, 4])
def test_stem_kernel_and_stride_are_honoured(kernel, stride):
    model = model_for(image_size=64, stem_kernel_size=kernel, stem_stride=stride)
    stem = model.get_layer("stem_conv")

    assert stem.kernel_size == (kernel, kernel)
    assert stem.strides == (stride, stride)
    assert stem.output_shape[1:3] == (64 // stride, 64 // stride)


def test_valid_padding_shrinks_the_body_and_crops_the_shortcut_to_match():
    model = model_for(image_size=64, padding="valid", stem_stride=1, stage_strides=[1, 2, 2])
    images = np.zeros((2, 64, 64, 3), "float32")

    assert model.get_layer("stem_conv").output_shape[1:3] == (62, 62)
    assert len(layers_of_type(model, "Cropping2D")) == 3
    assert model(images, training=False).shape == (2, NUM_CLASSES)


def test_too_deep_a_valid_padding_network_names_the_cause():
    with pytest.raises(ValueError, match=r"model.padding='valid' with image_size=16.*stage\d_block\d"):
        model_for(image_size=16, padding="valid", stem_stride=1, stage_filters=[16, 16, 16, 16],
                  stage_strides=[1, 1, 1, 1], blocks_per_stage=2)


# --------------------------------------------------------------------------- head

@pytest.mark.parametrize("image_size, train_images, expected", [
    (28, 8000, 1),     # small images: full resolution whatever their number (28 px digits)
    (32, 100000, 1),
    (48, 868, 1),      # few images: 868 x 48² <= 2,000,000 pixels per epoch
    (48, 869, 2),
    (64, 8000, 2),     # larger images, many of them: the cheap strided stem
    (128, None, 2),    # train split size unknown: only the side decides
    (32, None, 1),
])
def test_stem_stride_auto_keeps_full_resolution_for_small_images_or_few_of_them(image_size, train_images, expected):
    from components.trainer.model import stem_stride
    assert stem_stride(from_dict({}).model, image_size, train_images) == expected
    assert stem_stride(from_dict({"model": {"stem_stride": 2}}).model, image_size, train_images) == 2


def test_flatten_head_keeps_every_position_gap_head_averages_them():
    flat = model_for(image_size=32, head="flatten", dense_units=0, dropout=0.0)
    gap = model_for(image_size=32, head="gap", dense_units=0, dropout=0.0)

    assert types_of(flat.layers)[-2:] == ["Flatten", "Dense"]
    assert types_of(gap.layers)[-2:] == ["GlobalAveragePooling2D", "Dense"]
    # a 32x32 input keeps the stem at full resolution (stem_stride=auto), so the default stages end at 4x4x128:
    # flatten sees 16 positions, GAP one vector.
    assert flat.layers[-2].output_shape == (None, 4 * 4 * 128)
    assert gap.layers[-2].output_shape == (None, 128)


def test_layer_norm_normalises_the_pooled_features_before_the_classifier():
    with_ln = model_for(layer_norm=True, dense_units=0, dropout=0.0)
    without = model_for(layer_norm=False, dense_units=0, dropout=0.0)

    assert types_of(with_ln.layers)[-3:] == ["GlobalAveragePooling2D", "LayerNormalization", "Dense"]
    assert layers_of_type(without, "LayerNormalization") == []


def test_dense_units_and_dropout_shape_the_head():
    model = model_for(dense_units=64, dropout=0.3)
    hidden, dropout, output = model.layers[-3:]

    assert (hidden.units, hidden.get_config()["activation"]) == (64, "relu")
    assert dropout.rate == pytest.approx(0.3)
    assert (output.units, output.get_config()["activation"]) == (NUM_CLASSES, "softmax")
    bare = model_for(dense_units=0, dropout=0.0)
    assert len(layers_of_type(bare, "Dense")) == 1 and layers_of_type(bare, "Dropout") == []


def test_fewer_than_two_classes_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes"):
        model_for(num_classes=1)


# --------------------------------------------------------------------------- learning

def test_default_preset_learns_bright_from_dark_images_in_a_few_epochs():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    dark = rng.uniform(0.0, 0.3, (30, 32, 32, 3))
    bright = rng.uniform(0.7, 1.0, (30, 32, 32, 3))
    images = np.concatenate([dark, bright]).astype("float32")
    labels = np.array([0] * 30 + [1] * 30)
    model = model_for(image_size=32, num_classes=2)
    skip_autograph_for_tf_keras()  # as the Trainer does: graph mode without converting Keras' source
    model.compile(keras.optimizers.Adam(0.002), "sparse_categorical_crossentropy", metrics=["accuracy"])

    history = model.fit(images, labels, batch_size=16, epochs=5, shuffle=True, verbose=0)
    served = model(images, training=False).numpy().argmax(axis=1)

    assert history.history["accuracy"][-1] >= 0.9
    # Inference uses BN's moving statistics: they must have caught up within these 20 steps.
    assert (served == labels).mean() >= 0.9
