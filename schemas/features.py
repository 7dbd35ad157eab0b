"""Names of the features that travel between components: one place for each.

Raw features are what the image ExampleGen writes into each tf.Example.
Transformed features are what `preprocessing_fn` produces and the model eats.
"""

# Raw tf.Example features written by the image ExampleGen.
IMAGE_KEY = "image"            # original encoded bytes (JPEG/PNG/GIF/BMP), never decoded pixels
LABEL_KEY = "label"            # int64 index into the sorted class list
LABEL_NAME_KEY = "label_name"  # the class folder's name
PATH_KEY = "path"              # path relative to the data root: the split's hash key
HEIGHT_KEY = "height"          # from the image header
WIDTH_KEY = "width"
FORMAT_KEY = "format"          # "jpeg" | "png" | "gif" | "bmp", sniffed from content

# The three splits ImageExampleGen writes (by path hash): the Trainer fits on train and
# picks its epoch on validation; only the Evaluator reads test (docs/evaluation-gate.md).
TRAIN_SPLIT = "train"
VALIDATION_SPLIT = "validation"
TEST_SPLIT = "test"
HELD_OUT_SPLITS = (VALIDATION_SPLIT, TEST_SPLIT)
# With data.golden_dir: a fixed folder every run is scored on, never trained on (docs/scheduled-runs.md).
GOLDEN_SPLIT = "golden"
# Written on every example when data.golden_dir is set: the example's split, so the Evaluator (which pools
# its splits) reports the golden images as a slice of their own. Serving parses `image` only.
SPLIT_KEY = "split"

# Transformed features (output of preprocessing_fn).
IMAGE_XF_KEY = "image_xf"      # float32 [H, W, 3] in [0, 1]
LABEL_XF_KEY = LABEL_KEY       # the label passes through unchanged

# The files each step writes and the properties it records live in that step's spec.py
# (components/<step>/spec.py), beside the code that writes them.

# Model outputs / signatures (the serving contract).
PROBABILITIES_OUTPUT = "probabilities"
CLASS_ID_OUTPUT = "class_id"
CLASS_NAME_OUTPUT = "class_name"
EXAMPLES_SIGNATURE = "serving_default"   # serialized tf.Example in, used by TFMA
BYTES_SIGNATURE = "serving_bytes"        # raw encoded image bytes in, for clients
EXAMPLES_INPUT = "examples"
BYTES_INPUT = "image_bytes"              # ends in _bytes: TF Serving REST decodes {"b64": ...}

# TFX deletes a failed execution's output folder; a component that stops the run keeps
# its report in `<artifact uri>` + STOPPED_SUFFIX so the error message can point at it.
STOPPED_SUFFIX = ".stopped"

# TFX's own key on a ModelBlessing and an InfraBlessing: the Evaluator and InfraCheck write it, the Pusher
# and `imgpipe runs` read it. Every other property and file name lives in its step's spec.py.
BLESSED_PROPERTY = "blessed"
