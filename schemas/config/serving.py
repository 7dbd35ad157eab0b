"""The sections after training: `eval` (the gate a model must clear) and `serving` (the pushed model)."""
from __future__ import annotations

from dataclasses import dataclass

from schemas.config.base import check
from schemas.config.data import MAX_DECODABLE_PIXELS


SMALL_TEST_SPLIT_CHOICES = ("warn", "fail")
TFLITE_OFF = "off"
TFLITE_CHOICES = (TFLITE_OFF, "float", "int8", "both")  # serving.tflite: which on-device models are built


@dataclass
class EvalConfig:
    """The bar a model must clear to be pushed (docs/evaluation-gate.md), judged on the test split only."""
    min_accuracy: float = 0.8          # absolute floor on test accuracy
    confidence: float = 0.95           # not blessed when McNemar says the candidate is worse than served at this level
    max_class_recall_drop: float = 0.2  # largest allowed fall of one class's recall against the served model
    min_class_recall: float = 0.5      # floor on every class's recall
    min_test_images: int = 30          # below this the test split is "too small to mean much"
    min_test_per_class: int = 3        # ... or when a class has fewer test images than this
    small_test_split: str = "warn"     # "warn": say so and go on; "fail": stop before training
    force_bless: bool = False          # push whatever the gate says; needs force_reason
    force_reason: str = ""             # why, stored on the blessing in ML Metadata and printed

    def validate(self) -> None:
        check(0 <= self.min_accuracy <= 1, "eval.min_accuracy", self.min_accuracy, "a number from 0 to 1")
        check(0.5 <= self.confidence < 1, "eval.confidence", self.confidence, "a number from 0.5 to below 1")
        for key in ("max_class_recall_drop", "min_class_recall"):
            check(0 <= getattr(self, key) <= 1, f"eval.{key}", getattr(self, key), "a number from 0 to 1")
        for key in ("min_test_images", "min_test_per_class"):
            check(getattr(self, key) >= 0, f"eval.{key}", getattr(self, key), "an integer >= 0")
        check(self.small_test_split in SMALL_TEST_SPLIT_CHOICES, "eval.small_test_split",
               self.small_test_split, " or ".join(SMALL_TEST_SPLIT_CHOICES))
        check(not self.force_bless or bool(self.force_reason.strip()), "eval.force_reason",
               self.force_reason, 'a reason when eval.force_bless=true, e.g. --set '
               'eval.force_reason="baseline trained on mislabeled data" (it is stored with the run)')


@dataclass
class ServingConfig:
    model_name: str = "image_classifier"  # pushed to <serving_dir>/<model_name>/<version>
    keep_versions: int = 5          # served versions kept after a push; older ones are deleted
    warmup_images: int = 4          # validation images in assets.extra/tf_serving_warmup_requests, per signature
    infra_check_atol: float = 1e-4  # max |probability difference| between serving and the trained model
    # Both signatures refuse a request before decoding it (docs/serving.md#what-a-request-may-hold):
    max_image_pixels: int = 0       # width*height an image's header may declare; 0: data.max_image_pixels
    max_image_bytes: int = 0        # encoded bytes per image; 0: data.max_file_mb
    max_batch_images: int = 1000    # images in one request (TFMA's Evaluator sends batches of up to 1000)
    signing_key: str = ""           # Ed25519 private key (PEM) that signs each pushed version's manifest; "": unsigned
    tflite: str = "both"            # on-device models pushed to <serving_dir>/<model_name>-tflite/<version>: off|float|int8|both
    tflite_min_agreement: float = 0.99  # least share of test (+ golden) images where each TFLite model answers the
    #                                     SavedModel's class; below it the TFLite push is blocked (not the server push)

    def validate(self) -> None:
        ok = bool(self.model_name) and all(c.isalnum() or c in "-_." for c in self.model_name)
        check(ok, "serving.model_name", self.model_name, "letters, digits, '-', '_' or '.'")
        check(self.keep_versions >= 1, "serving.keep_versions", self.keep_versions,
               "an integer >= 1 (the newest version is never pruned)")
        check(1 <= self.warmup_images <= 64, "serving.warmup_images", self.warmup_images, "an integer from 1 to 64")
        check(0 < self.infra_check_atol <= 0.5, "serving.infra_check_atol", self.infra_check_atol,
               "a number in (0, 0.5]")
        check(0 <= self.max_image_pixels <= MAX_DECODABLE_PIXELS, "serving.max_image_pixels", self.max_image_pixels,
               f"an integer from 1 to {MAX_DECODABLE_PIXELS}, or 0 for data.max_image_pixels")
        check(0 <= self.max_image_bytes < 2**31, "serving.max_image_bytes", self.max_image_bytes,
               "an integer from 1 to 2147483647 (TensorFlow's decoders refuse 2 GB), or 0 for data.max_file_mb")
        check(self.tflite in TFLITE_CHOICES, "serving.tflite", self.tflite, " | ".join(TFLITE_CHOICES))
        check(0 <= self.tflite_min_agreement <= 1, "serving.tflite_min_agreement", self.tflite_min_agreement,
              "a number from 0 to 1")
        check(1 <= self.max_batch_images <= 100_000, "serving.max_batch_images", self.max_batch_images,
               "an integer from 1 to 100000")

