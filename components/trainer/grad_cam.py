"""Grad-CAM (Selvaraju et al., 2017): where in an image the network looked for the class it scored.

The feature map is the last convolutional stage's output, the input of the head's first layer
(backbones.first_head_layer), so it works for every `model.backbone`: the residual CNN and the Keras
applications alike. The class score is the pre-softmax logit (the last Dense layer's kernel and bias
applied to its input): a softmax saturated at 0.99 would leave almost no gradient. Each channel of
the feature map is weighted by the mean gradient of the score over it; the weighted sum, clipped at 0,
is scaled to [0, 1] per image and resized to the image.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.trainer.backbones import first_head_layer
from schemas import features


def grad_cam(model: keras.Model, images: np.ndarray, class_ids: Sequence[int]) -> np.ndarray:
    """Heatmaps [N, H, W] in [0, 1] of `class_ids` for `images` ([N, H, W, 3] as the model reads them)."""
    output = model.get_layer(features.PROBABILITIES_OUTPUT)
    probe = keras.Model(model.inputs, [first_head_layer(model).input, output.input])
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        feature_map, before_output = probe(images, training=False)
        logits = tf.matmul(before_output, output.kernel) + output.bias
        score = tf.gather(logits, tf.constant(list(class_ids), tf.int32), axis=1, batch_dims=1)
    gradients = tape.gradient(score, feature_map)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))
    cam = cam / tf.maximum(tf.reduce_max(cam, axis=(1, 2), keepdims=True), 1e-12)
    cam = tf.image.resize(cam[..., None], tf.shape(images)[1:3], method="bilinear")[..., 0]
    return cam.numpy()

