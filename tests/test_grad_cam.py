"""Grad-CAM from the last convolutional stage (components/trainer/grad_cam.py), on networks the Trainer builds.

A small residual CNN trained here to tell a red square from a green one, each at a random place on a
black image, must look at the square: its heatmap is hotter inside the square than around it. A Keras
applications backbone (random weights: nothing is downloaded) gets a map of the same shape.
"""
import numpy as np
import pytest
import tf_keras as keras

from components.trainer.backbones import build_network
from components.trainer.grad_cam import grad_cam
from schemas.config import build_config

SIZE, SIDE = 32, 8


def squares(n: int, seed: int):
    """Images with one SIDE x SIDE square, red (class 0) or green (class 1), and where each square is."""
    rng = np.random.default_rng(seed)
    images, labels, boxes = np.zeros((n, SIZE, SIZE, 3), np.float32), rng.integers(0, 2, n), []
    for i, label in enumerate(labels):
        y, x = rng.integers(0, SIZE - SIDE, 2)
        images[i, y:y + SIDE, x:x + SIDE, label] = 1.0
        boxes.append((y, x))
    return images, labels, boxes


def test_a_trained_cnn_looks_at_the_square_that_decides_its_class():
    cfg = build_config(overrides=["model.stage_filters=[16,32]", "model.stage_strides=[2,2]", "model.stem_filters=16", "model.stem_stride=1",
                                  "model.dropout=0"])
    keras.utils.set_random_seed(0)
    model = build_network(cfg, SIZE, 2, load_weights=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    images, labels, _ = squares(160, seed=1)
    model.fit(images, labels, batch_size=32, epochs=5, verbose=0)
    test, test_labels, boxes = squares(40, seed=2)
    predicted = model.predict(test, verbose=0).argmax(axis=1)
    assert (predicted == test_labels).mean() >= 0.9
    heatmaps = grad_cam(model, test, predicted)
    assert heatmaps.shape == (40, SIZE, SIZE) and heatmaps.min() >= 0 and heatmaps.max() <= 1
    inside_hotter = []
    for heat, (y, x) in zip(heatmaps, boxes):
        mask = np.zeros((SIZE, SIZE), bool)
        mask[y:y + SIDE, x:x + SIDE] = True
        inside_hotter.append(heat[mask].mean() > 2 * heat[~mask].mean())
    assert np.mean(inside_hotter) >= 0.8, np.mean(inside_hotter)


@pytest.mark.parametrize("backbone", ["mobilenet_v3_small"])
def test_a_keras_applications_backbone_gets_a_heatmap_from_its_last_stage(backbone):
    cfg = build_config(overrides=[f"model.backbone={backbone}", "model.backbone_weights=none"])
    model = build_network(cfg, SIZE, 3, load_weights=False)
    images, _, _ = squares(4, seed=3)
    heatmaps = grad_cam(model, images, [0, 1, 2, 0])
    assert heatmaps.shape == (4, SIZE, SIZE) and np.isfinite(heatmaps).all()
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1
