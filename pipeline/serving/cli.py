"""`imgpipe rollback`, `imgpipe predict` and `imgpipe verify`: the serving side of the command line.

pipeline/cli.py registers them. rollback and verify import no TensorFlow for a
local serving dir; predict loads it only once its inputs are known to exist.
"""
from __future__ import annotations

import json
import os
import sys

from pipeline.cli_help import add_command
from pipeline.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipeline.layout import DEFAULT_OUTPUT, OutputLayout
from schemas.config import ServingConfig

# Where `imgpipe run` pushes with its default --output: <output>/serving/<serving.model_name>.
DEFAULT_SERVING_DIR = OutputLayout(DEFAULT_OUTPUT).serving_dir
DEFAULT_TOP_K = 3
ROLLBACK_EXAMPLES = (
    "imgpipe rollback --serving-dir output/serving                 # back to the version before the newest",
    "imgpipe rollback --serving-dir output/serving --to 1795739034",
    "imgpipe rollback --serving-dir output/serving --restore       # bring every hidden version back",
    "imgpipe rollback --serving-dir gs://my-bucket/serving --model flowers")
PREDICT_EXAMPLES = (
    "imgpipe predict photo.jpg                                      # newest version under output/serving",
    "imgpipe predict --json images/ > predictions.jsonl",
    "imgpipe predict --model output/serving/image_classifier/1795739034 --top-k 1 'shots/*.png'",
    "imgpipe predict --model output/serving/image_classifier-tflite photo.jpg   # the on-device model (model.tflite)")
VERIFY_EXAMPLES = (
    "imgpipe verify                                                 # every version under output/serving/image_classifier",
    "imgpipe verify --serving-dir /models --model flowers --version 1795739034 --public-key signing.pub",
    "imgpipe verify --strict      # a version pushed before manifests existed fails too")


def add_serving_commands(commands) -> None:
    rollback = add_command(
        commands, "rollback", "serve an older pushed version: newer ones are hidden from TF Serving, kept, restorable",
        ROLLBACK_EXAMPLES, description="Without --to: back to the version before the newest. --to VERSION: that version becomes "
        "the latest (a hidden one is brought back). --restore: bring every hidden version back.")
    rollback.add_argument("--serving-dir", required=True, help="the folder holding <model name>/<version>/")
    rollback.add_argument("--model", default=ServingConfig().model_name,
                          help="model name (default: the serving.model_name default)")
    target = rollback.add_mutually_exclusive_group()
    target.add_argument("--to", type=int, metavar="VERSION", help="the version to serve")
    target.add_argument("--restore", action="store_true", help="bring back every rolled-back version")
    rollback.set_defaults(func=cmd_rollback)

    predict = add_command(commands, "predict", "classify images with a pushed model, through the "
                          "serving_bytes signature TF Serving would use", PREDICT_EXAMPLES)
    predict.add_argument("inputs", nargs="+", metavar="FILE|FOLDER|GLOB")
    predict.add_argument("--model", default=os.path.join(DEFAULT_SERVING_DIR, ServingConfig().model_name),
                         help="a SavedModel folder, or <serving dir>/<model name> for its newest version; a .tflite "
                         "file or a pushed TFLite folder (<model name>-tflite[/<version>]) (default: %(default)s)")
    predict.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="classes per image (default: 3)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line: path, class_name, "
                         "probability, top_k, error")
    predict.set_defaults(func=cmd_predict)

    verify = add_command(commands, "verify", "check pushed versions against their sha256 manifest (and signature)",
                         VERIFY_EXAMPLES, description="Exit 1 naming each file that differs from the manifest written "
                         "at push time (changed, missing, not listed), or a signature that does not verify.")
    verify.add_argument("--serving-dir", default=DEFAULT_SERVING_DIR, help="the folder holding <model name>/<version>/ "
                        "(default: %(default)s)")
    verify.add_argument("--model", default=ServingConfig().model_name,
                        help="model name (default: the serving.model_name default)")
    verify.add_argument("--version", type=int, help="one version (default: every served and rolled-back version)")
    verify.add_argument("--public-key", default="", metavar="FILE", help="Ed25519 public key (PEM): the manifest "
                        "must carry a signature that verifies with it")
    verify.add_argument("--strict", action="store_true", help="a version without a manifest (pushed before "
                        "manifests existed) fails too")
    verify.set_defaults(func=cmd_verify)


def cmd_rollback(args) -> int:
    from components.pusher.models_config import write_models_config
    from components.pusher.publish import PublishError
    from components.pusher.rollback import rollback
    model_dir = os.path.join(args.serving_dir, args.model)
    try:
        result = rollback(model_dir, to=args.to, restore=args.restore)
    except PublishError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    write_models_config(model_dir, args.model)
    moved = ([f"hidden {', '.join(map(str, result.hidden))}"] if result.hidden else []) + \
        ([f"restored {', '.join(map(str, result.restored))}"] if result.restored else [])
    print(f"{model_dir}: serving version {result.latest} ({'; '.join(moved) or 'nothing moved'})")
    if result.hidden:
        print(f"Undo with: imgpipe rollback --serving-dir {args.serving_dir} --model {args.model} --restore")
    return EXIT_OK


def cmd_predict(args) -> int:
    from pipeline.serving import predict as p
    try:
        model_dir = p.resolve_model(args.model)
        paths = p.expand_inputs(args.inputs)
    except p.PredictInputError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        predictor = make_predictor(model_dir, args.top_k)
    except p.PredictInputError as e:
        print(f"imgpipe: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Model: {model_dir}", file=sys.stderr)
    failed = 0
    # On a terminal the result lines stream by themselves; redirected, stderr shows how far it got.
    progress = p.progress_bar if len(paths) > p.BATCH_SIZE and not sys.stdout.isatty() else None
    for prediction in p.predict_paths(predictor, paths, progress):
        failed += prediction.error is not None
        print(json.dumps(prediction.to_dict()) if args.json else p.format_line(prediction), flush=True)
    if failed:
        print(f"imgpipe: {failed} of {len(paths)} file(s) failed", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def make_predictor(model: str, top_k: int):
    """predict.Predictor for a SavedModel, tflite_predict.TFLitePredictor for a .tflite file or TFLite folder."""
    from pipeline.serving.predict import Predictor
    from pipeline.serving.tflite_predict import TFLitePredictor, tflite_file
    found = tflite_file(model)
    return TFLitePredictor(found, top_k) if found else Predictor(model, top_k)


def cmd_verify(args) -> int:
    from components.pusher.integrity import NO_MANIFEST, IntegrityError, verify_version
    from components.pusher.publish import ROLLED_BACK_PREFIX, rolled_back_versions, served_versions
    model_dir = os.path.join(args.serving_dir, args.model)
    hidden = set(rolled_back_versions(model_dir))
    versions = sorted(set(served_versions(model_dir)) | hidden)
    if args.version is not None:
        if args.version not in versions:
            print(f"imgpipe: error: version {args.version} is not in {model_dir}; versions there: "
                  f"{', '.join(map(str, versions)) or 'none'}", file=sys.stderr)
            return EXIT_USAGE
        versions = [args.version]
    if not versions:
        print(f"imgpipe: error: no pushed versions in {model_dir} (check --serving-dir and --model)", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for version in versions:
        path = os.path.join(model_dir, f"{ROLLED_BACK_PREFIX}{version}" if version in hidden else str(version))
        try:
            problems = verify_version(path, args.public_key)
        except IntegrityError as e:
            print(f"imgpipe: error: {e}", file=sys.stderr)
            return EXIT_USAGE
        bad = [p for p in problems if args.strict or p != NO_MANIFEST]
        failed += bool(bad)
        state = "FAILED" if bad else "not checked" if problems else "ok, signature verified" if args.public_key else "ok"
        print(f"{path}: {state}" + "".join(f"\n  {p}" for p in problems))
    if failed:
        print(f"imgpipe: {failed} of {len(versions)} version(s) failed verification", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
