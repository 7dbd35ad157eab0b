"""Component code of the image-classification pipeline (one module or package per component)."""
import os

# The whole TFX 1.16 stack is Keras 2 (tf_keras); this must happen before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
