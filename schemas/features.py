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

# Files the image ExampleGen writes at the root of its Examples artifact.
LABELS_FILE = "labels.txt"     # one class name per line; line number == label
MANIFEST_FILE = "manifest.json"  # class counts and the data root, for the trainer and the summary
SHORT_SIDE_HISTOGRAM = "short_side_histogram"  # manifest.json key: {short side px: images}, for image_size=auto
SPANS_KEY = "spans"            # manifest.json and the model's assets.extra/imgpipe.json: the span numbers trained on
QUARANTINE_FILE = "quarantine.json"  # files set aside at ingestion: [{path, reason, size_bytes, class_name}]

# Beside each exported SavedModel (assets.extra/ is TF Serving's place for files it does not load):
# the image size, how training went and the spans trained on; read without TensorFlow.
MODEL_FACTS_FILE = "assets.extra/imgpipe.json"

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

# The Trainer writes per-epoch metrics and times into its ModelRun artifact; the run report plots them.
HISTORY_FILE = "history.json"

# Custom properties on artifacts in ML Metadata that `imgpipe runs` reads without TFX or TensorFlow.
BLESSED_PROPERTY = "blessed"            # on a ModelBlessing / InfraBlessing: TFX's own key, the Pusher reads it
FORCED_PROPERTY = "forced_bless"        # on the ModelBlessing: eval.force_bless overrode the gate
TEST_ACCURACY_PROPERTY = "test_accuracy"  # on the ModelEvaluation: the candidate's accuracy on the test split
NUM_EXAMPLES_PROPERTY = "num_examples"  # on the Examples: images ingested (all splits)
NOTHING_NEW_PROPERTY = "message"  # on NewDataCheck's report: the stop message when no span is new, else ""
ALREADY_SERVED_PROPERTY = "already_served"  # on a PushedModel not pushed: the served version identical to the candidate
