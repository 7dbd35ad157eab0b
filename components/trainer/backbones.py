"""`model.backbone`: the network the Trainer fits, and the pretrained weights it starts from.

    image_xf, float32 [0, 1]  (the Transform's output)
      -> the backbone's own input scaling          (a layer of the model: see below)
      -> backbone, include_top=False               (resnet_cnn's stem and stages, or a Keras application)
      -> head                                      (components/trainer/model.py's head(): model.head, ...)

`resnet_cnn` is components/trainer/model.py's network, unchanged; its backbone is every layer before
the head. The Keras applications (tf_keras.applications) are one nested layer named `backbone`, after
their input scaling: MobileNetV3 and EfficientNetV2 take 0..255 (their own Rescaling/Normalization
layers, include_preprocessing=True, do the rest), ResNet50 takes 0..255 BGR minus the ImageNet means
(caffe style, CaffeInput). Because the scaling is inside the Keras model, the training graph and both
serving signatures (components/trainer/serving.py) run it: no training/serving skew.

Weights (`model.backbone_weights`, schemas/backbones.py) are the backbone's only, in Keras' HDF5
format, matched layer by layer in order, as Keras loads its own `*_notop.h5` ImageNet files: so a
Keras notop file, a file saved by `save_backbone_weights` (any class list) and `imagenet` all load the
same way. `imagenet` goes through Keras' own download and cache (`~/.keras/models/`); a gs:// file is
copied to a local temporary file first (Kubeflow pods read the same setting).
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from typing import List, Optional

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from components.trainer.model import BN_MOMENTUM, build_model, head
from schemas import features
from schemas.backbones import BACKBONES, RESNET_CNN, WEIGHTS_IMAGENET, WEIGHTS_NONE, weights_source
from schemas.config import Config, ModelConfig

BACKBONE_LAYER = "backbone"               # the nested Keras application
SCALING_LAYER = "backbone_input_scaling"  # [0, 1] -> what the backbone's weights expect
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications.imagenet_utils, mode "caffe"

# Where Keras' applications download their ImageNet notop files from: (module, URL attribute, hash key).
_KERAS_ORIGIN = {
    "mobilenet_v3_small": ("mobilenet_v3", "BASE_WEIGHT_PATH", "small_224_1.0_float"),
    "efficientnet_v2_b0": ("efficientnet_v2", "BASE_WEIGHTS_PATH", "b0"),
    "resnet50": ("resnet", "BASE_WEIGHTS_PATH", "resnet50"),
}


class BackboneWeightsError(ValueError):
    """model.backbone_weights cannot be used; the message is one line naming the file and the fix."""


@keras.utils.register_keras_serializable(package="imgpipe")
class CaffeInput(layers.Layer):
    """RGB in [0, 1] -> 0..255 BGR minus the ImageNet channel means: keras.applications.resnet50.preprocess_input."""

    def call(self, images):
        return images[..., ::-1] * 255.0 - tf.constant(IMAGENET_BGR_MEAN, dtype=images.dtype)


def build_network(cfg: Config, image_size: int, num_classes: int, load_weights: bool = True,
                  train_images: Optional[int] = None) -> keras.Model:
    """The network model.backbone names, with model.backbone_weights loaded into its backbone
    (random weights everywhere with `load_weights=False`); `train_images` sizes resnet_cnn's stem_stride=auto."""
    source = weights_source(cfg.model)
    if cfg.model.backbone == RESNET_CNN:
        model = build_model(cfg.model, image_size, num_classes, train_images=train_images)
    else:
        model = application_model(cfg.model, image_size, num_classes, pretrained=source != WEIGHTS_NONE)
    if load_weights and source != WEIGHTS_NONE:
        feature_extractor(model).load_weights(checked_weights_file(model, source, cfg.model.backbone))
    return model


def application_model(cfg: ModelConfig, image_size: int, num_classes: int, pretrained: bool) -> keras.Model:
    """input scaling -> the Keras application without its top -> our head.

    A pretrained backbone is called with training=False, as in Keras' transfer-learning guide: its
    BatchNorm layers keep their statistics (and its dropout stays off) in both fine-tuning phases."""
    inputs = keras.Input(shape=(image_size, image_size, 3), dtype="float32", name=features.IMAGE_XF_KEY)
    if cfg.backbone == "resnet50":
        x = CaffeInput(name=SCALING_LAYER)(inputs)
    else:  # MobileNetV3 / EfficientNetV2 rescale 0..255 themselves (include_preprocessing=True)
        x = layers.Rescaling(255.0, name=SCALING_LAYER)(inputs)
    backbone = keras_application(cfg.backbone, image_size)
    x = backbone(x, training=False) if pretrained else backbone(x)
    return keras.Model(inputs, head(x, cfg, num_classes), name=f"{cfg.backbone}_classifier")


def keras_application(name: str, image_size: int) -> keras.Model:
    """The application without its classifier and with random weights (loaded later, see module doc)."""
    constructor = getattr(keras.applications, BACKBONES[name].keras_class)
    kwargs = {} if name == "resnet50" else {"include_preprocessing": True}
    backbone = constructor(include_top=False, weights=None, input_shape=(image_size, image_size, 3), **kwargs)
    backbone._name = BACKBONE_LAYER  # pylint: disable=protected-access
    for layer in backbone.layers:  # trained from scratch, 0.99 leaves the inference statistics behind (model.py)
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return backbone


def feature_extractor(model: keras.Model) -> keras.Model:
    """The backbone of a network build_network made (or its SavedModel, reloaded): what weights files hold."""
    try:
        return model.get_layer(BACKBONE_LAYER)
    except ValueError:
        pass
    return keras.Model(model.inputs, first_head_layer(model).input, name=f"{RESNET_CNN}_backbone")


def first_head_layer(model: keras.Model) -> layers.Layer:
    """The head's first layer (model.py's head()): its input is the last convolutional stage's feature map."""
    return next(layer for layer in model.layers
                if layer.name.startswith("head_") or layer.name == features.PROBABILITIES_OUTPUT)


def backbone_layers(model: keras.Model) -> List[layers.Layer]:
    """The backbone's layers, nested models flattened."""
    found, todo = [], list(feature_extractor(model).layers)
    while todo:
        layer = todo.pop(0)
        if isinstance(layer, keras.Model):
            todo = list(layer.layers) + todo
        elif not isinstance(layer, layers.InputLayer):
            found.append(layer)
    return found


# --------------------------------------------------------------------------- weights files

def checked_weights_file(model: keras.Model, source: str, backbone: str) -> str:
    """The local file `source` (imagenet, a path or a gs:// URI) names, checked to fit `model`'s backbone."""
    path = imagenet_weights_file(backbone) if source == WEIGHTS_IMAGENET else local_weights_file(source)
    problem = weights_file_problem(feature_extractor(model), path, source, backbone)
    if problem:
        raise BackboneWeightsError(problem)
    return path


def save_backbone_weights(model: keras.Model, path: str) -> str:
    """Write the backbone's weights (not the head: any class list can load them) to a .h5 path or gs:// URI."""
    if "://" not in path:
        feature_extractor(model).save_weights(path)
        return path
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, os.path.basename(path))
        feature_extractor(model).save_weights(local)
        tf.io.gfile.copy(local, path, overwrite=True)
    return path


def local_weights_file(source: str) -> str:
    """The file itself, or a local copy of a gs:// (any tf.io.gfile scheme) file: h5py reads local files."""
    if not tf.io.gfile.exists(source):
        raise BackboneWeightsError(f"model.backbone_weights={source}: no such file")
    if "://" not in source:
        return source
    local = os.path.join(tempfile.mkdtemp(prefix="imgpipe-backbone-"), os.path.basename(source))
    tf.io.gfile.copy(source, local, overwrite=True)
    return local


def keras_home() -> str:
    """Keras' folder: $KERAS_HOME, else ~/.keras (where tf_keras also reads keras.json)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def keras_cache_path(backbone: str) -> str:
    """Where get_file keeps the ImageNet file: <keras home>/models/ (/tmp/.keras/models/ if that is read-only)."""
    home = keras_home() if os.access(keras_home(), os.W_OK) else os.path.join("/tmp", ".keras")
    return os.path.join(home, "models", BACKBONES[backbone].imagenet_file)


def imagenet_weights_file(backbone: str) -> str:
    """Keras' cached ImageNet notop file for `backbone`, downloaded by Keras when missing; else one line."""
    import importlib

    module, url_attr, hash_key = _KERAS_ORIGIN[backbone]
    keras_module = importlib.import_module(f"tf_keras.src.applications.{module}")
    name, md5 = BACKBONES[backbone].imagenet_file, keras_module.WEIGHTS_HASHES[hash_key][1]
    origin, cached = getattr(keras_module, url_attr) + name, keras_cache_path(backbone)
    where = f"put it at {cached}, or give its path or gs:// URI as model.backbone_weights"
    if os.path.exists(cached):  # checked here: get_file would delete a file whose md5 differs, then download
        if _md5(cached) == md5:
            return cached
        raise BackboneWeightsError(f"model.backbone_weights=imagenet: {cached} is not the file Keras expects "
                                   f"(md5 {md5}); download {origin} again and {where}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints a progress bar; our line says it all
            return keras.utils.get_file(name, origin, cache_dir=keras_home(), cache_subdir="models", file_hash=md5)
    except Exception as err:  # get_file raises a bare Exception when the URL cannot be fetched
        raise BackboneWeightsError(
            f"model.backbone_weights=imagenet: Keras could not fetch {name} ({' '.join(str(err).split())}); "
            f"download {origin} where there is internet and {where}") from None


def _md5(path: str) -> str:
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_file_problem(extractor: keras.Model, path: str, source: str, backbone: str) -> str:
    """'' when `path` holds, layer by layer in order, weights of the shapes the backbone has (how Keras
    loads an HDF5 file into a model); else one line naming the file and the first layer that differs."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            saved = [(name, [tuple(group[name][w].shape) for w in _strings(group[name].attrs["weight_names"])])
                     for name in _strings(group.attrs["layer_names"])]
    except (OSError, KeyError) as err:
        return f"model.backbone_weights={source}: {path} is not a Keras HDF5 weights file ({err})"
    saved = [(name, shapes) for name, shapes in saved if shapes]
    wanted = [(layer.name, [tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights])
              for layer in extractor.layers if layer.weights]
    other = f"it was saved from another network than model.backbone={backbone} (or other model.* settings)"
    if len(saved) != len(wanted):
        return (f"model.backbone_weights={source}: the file holds weights for {len(saved)} layers, the "
                f"backbone has {len(wanted)}: {other}")
    for index, ((file_layer, file_shapes), (layer, shapes)) in enumerate(zip(saved, wanted), start=1):
        if file_shapes != shapes:
            return (f"model.backbone_weights={source}: layer {index} ({file_layer!r} in the file, {layer!r} "
                    f"here) holds weights of shapes {_shapes(file_shapes)}, the backbone needs "
                    f"{_shapes(shapes)}: {other}")
    return ""


def _strings(values) -> List[str]:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _shapes(shapes) -> str:
    return ", ".join("x".join(str(d) for d in shape) for shape in shapes)


def preflight_weights(cfg: Config) -> str:
    """Before a run starts: fetch or find model.backbone_weights and check that it fits; '' when there is
    nothing to load, else a line saying what will be loaded. Raises the Trainer's own BackboneWeightsError
    line minutes before the Trainer would."""
    source = weights_source(cfg.model)
    if source == WEIGHTS_NONE:
        return ""
    size = max(BACKBONES[cfg.model.backbone].min_size, 32)  # the weights' shapes do not depend on the size
    model = build_network(cfg, size, 2, load_weights=False)
    path = checked_weights_file(model, source, cfg.model.backbone)
    return f"Backbone: {cfg.model.backbone}, weights {source}" + (f" ({path})" if path != source else "")
