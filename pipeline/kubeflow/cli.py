"""`imgpipe compile`, `submit`, `schedule`, `schedules`, `validate-spec`, `run-spec`: the Kubeflow / Vertex AI verbs.

pipeline/cli.py registers them. Heavy imports (TFX, kfp, aiplatform) happen
inside the commands, so `--help` and input errors answer at once.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

from pipeline.beam_args import add_beam_arg
from pipeline.cli_help import InputError, add_command, add_config_args
from pipeline.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pipeline.kubeflow.spec import TARGETS, default_package_name

IMAGE = "gcr.io/my-proj/imgpipe:0.1.0"
COMPILE_EXAMPLES = (
    f"imgpipe compile --image {IMAGE} --pipeline-root gs://my-bucket/imgpipe --data gs://my-bucket/images",
    f"imgpipe compile --image {IMAGE} --pipeline-root minio://mlpipeline/imgpipe "
    "--serving-dir gs://my-bucket/serving --config configs/example.yaml",
    f"imgpipe compile --target vertex --image {IMAGE} --pipeline-root gs://my-bucket/imgpipe --output imgpipe.json")
SUBMIT_EXAMPLES = (
    "imgpipe submit --host http://localhost:8080 --package imgpipe.yaml "
    "--param data_root=gs://my-bucket/images/2026-11-26 --param train_steps=500",
    f"imgpipe submit --host http://localhost:8080 --image {IMAGE} --pipeline-root gs://my-bucket/imgpipe "
    "--param data_root=gs://my-bucket/images   # compiles first",
    "imgpipe submit --target vertex --package imgpipe.json --project my-proj --region europe-west4 "
    "--param data_root=gs://my-bucket/images")
SCHEDULE_EXAMPLES = (
    "imgpipe schedule --host http://localhost:8080 --package imgpipe.yaml --cron \"0 0 3 * * *\" "
    "--job-name imgpipe-nightly   # KFP: 6 fields, seconds first",
    "imgpipe schedule --target vertex --package imgpipe.json --project my-proj --region europe-west4 "
    "--cron \"0 3 * * *\" --param data_root=gs://my-bucket/images/latest",
    "imgpipe schedule --host https://kubeflow.example.com/pipeline --namespace team-vision "
    "--token-file ~/.kfp-token --package imgpipe.yaml --cron \"0 0 3 * * *\" --job-name nightly --replace")
SCHEDULES_EXAMPLES = (
    "imgpipe schedules list --host http://localhost:8080",
    "imgpipe schedules pause nightly --host https://kubeflow.example.com/pipeline --namespace team-vision "
    "--cookie-file ~/.kfp-cookie",
    "imgpipe schedules resume nightly --host http://localhost:8080",
    "imgpipe schedules delete 0f7c2a4e-1b2d-4c3e-9f00-123456789abc --host http://localhost:8080")


def add_commands(commands) -> None:
    """Register compile, submit, schedule, schedules, validate-spec and run-spec on the `imgpipe` parser."""
    comp = add_command(commands, "compile", "compile the pipeline for Kubeflow Pipelines v2 (.yaml) "
                       "or Vertex AI (.json)", COMPILE_EXAMPLES)
    _add_compile_args(comp, required=True)
    comp.add_argument("--output", default="", help="output file (default: imgpipe.yaml for kfp, "
                      "imgpipe.json for vertex)")
    comp.set_defaults(func=cmd_compile)
    for name, helptext, examples in (
            ("submit", "create one run on Kubeflow Pipelines or Vertex AI", SUBMIT_EXAMPLES),
            ("schedule", "create a recurring run (cron) on Kubeflow Pipelines or Vertex AI", SCHEDULE_EXAMPLES)):
        sub = add_command(commands, name, helptext, examples, description=helptext + ". Give a compiled "
                          "--package, or the compile options to compile one on the fly.")
        add_kfp_connection_args(sub, "(kfp target)")
        sub.add_argument("--experiment", default="imgpipe", help="KFP experiment (created if missing)")
        sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help="runtime parameter: data_root=URI, train_steps=N (0: the configured "
                         "epochs) or train_args=JSON (repeatable)")
        sub.add_argument("--package", default="", help="compiled .yaml (kfp) or .json (vertex); "
                         "default: compile now from the options below")
        sub.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", ""),
                         help="Vertex AI: Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)")
        sub.add_argument("--region", default="us-central1", help="Vertex AI: region (default: us-central1)")
        sub.add_argument("--service-account", default="", help="Vertex AI: service account to run as")
        if name == "submit":
            sub.add_argument("--run-name", default="", help="display name of the run")
        else:
            sub.add_argument("--cron", required=True, help="KFP: 6 fields, seconds first, e.g. "
                             "\"0 0 3 * * *\" (03:00 daily); Vertex AI: 5 fields, e.g. \"0 3 * * *\"")
            sub.add_argument("--job-name", default="", help="display name of the recurring run")
            sub.add_argument("--replace", action="store_true", help="KFP: replace the schedule(s) named "
                             "--job-name: the new one is created first, the old deleted only once it exists")
        _add_compile_args(sub, required=False)
        sub.set_defaults(func=cmd_submit if name == "submit" else cmd_schedule)
    _add_schedules_command(commands)
    add_spec_commands(commands)


def add_kfp_connection_args(parser: argparse.ArgumentParser, note: str = "") -> None:
    """Where the KFP API is and who calls it (pipeline/kubeflow/auth.py: which credential wins)."""
    parser.add_argument("--host", default="", help=f"KFP API URL, e.g. http://localhost:8080 {note}".strip())
    parser.add_argument("--namespace", default="", help="Kubeflow profile namespace the experiment and "
                        "schedules live in (multi-user KFP); default: none (single-user KFP)")
    parser.add_argument("--token-file", default="", metavar="PATH", help="file holding a bearer token "
                        "(default: $IMGPIPE_KFP_TOKEN or $IMGPIPE_KFP_COOKIE, else the in-cluster service-account "
                        "token if mounted; see docs/kubeflow-multi-user.md)")
    parser.add_argument("--cookie-file", default="", metavar="PATH", help="file holding a Dex/oauth2-proxy "
                        "session cookie name=value (default: $IMGPIPE_KFP_COOKIE)")


def _add_schedules_command(commands) -> None:
    """`imgpipe schedules list|pause|resume|delete` (pipeline/kubeflow/schedules.py)."""
    parser = add_command(commands, "schedules", "list, pause, resume or delete KFP schedules (recurring runs)",
                         SCHEDULES_EXAMPLES)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, helptext in (("list", "list the schedules: name, id, cron, state, created, pipeline version"),
                             ("pause", "pause a schedule (no new runs until resumed)"),
                             ("resume", "resume a paused schedule"), ("delete", "delete a schedule")):
        sub = actions.add_parser(action, help=helptext, description=helptext)
        if action != "list":
            sub.add_argument("schedule", help="schedule id, or its name when only one has that name")
        add_kfp_connection_args(sub)
        sub.set_defaults(func=cmd_schedules)


def _add_compile_args(parser, required: bool) -> None:
    parser.add_argument("--target", choices=TARGETS, default="kfp",
                        help="kfp: open-source Kubeflow Pipelines v2; vertex: Vertex AI Pipelines")
    parser.add_argument("--image", required=required, default="",
                        help="container image every step runs in (built from the Dockerfile)")
    parser.add_argument("--pipeline-root", required=required, default="",
                        help="where artifacts go, e.g. gs://bucket/imgpipe, or minio://mlpipeline/imgpipe "
                        "with --serving-dir gs://bucket/serving (or a mounted path)")
    parser.add_argument("--data", default="", help="default of the data_root runtime parameter "
                        "(default: none, every run must pass --param data_root=...)")
    parser.add_argument("--serving-dir", default="", help="where models are pushed: gs://... or a path "
                        "mounted into the pods, never minio:// or s3:// (default: <pipeline-root>/serving)")
    parser.add_argument("--source-dir-in-image", default="", help="where the Dockerfile puts this "
                        "repository in the image (default: /opt/imgpipe)")
    add_config_args(parser)
    add_beam_arg(parser)


def _quiet() -> None:
    """Keep the console for what a person reads: library FutureWarnings and TF's start-up lines
    (e.g. google-api-core on Python 3.10) say nothing about this pipeline."""
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _fail(e: Exception, code: int) -> int:
    print(f"imgpipe: error: {e}", file=sys.stderr)
    return code


def _compile(args, output: str) -> str:
    from pipeline.kubeflow.compiler import IMAGE_SOURCE_DIR, compile_pipeline
    from schemas.config import build_config

    cfg = build_config(args.config, args.overrides)
    cfg.run.beam_args = list(cfg.run.beam_args) + list(args.beam_args)
    return compile_pipeline(cfg, args.target, args.image, args.pipeline_root, output,
                            data_root=args.data, serving_dir=args.serving_dir,
                            image_source_dir=args.source_dir_in_image or IMAGE_SOURCE_DIR)


def cmd_compile(args) -> int:
    from pipeline.kubeflow.compiler import CompileError
    from pipeline.kubeflow.spec import runtime_parameter_defaults

    _quiet()
    output = args.output or default_package_name(args.target)
    try:
        path = _compile(args, output)
    except CompileError as e:
        return _fail(e, EXIT_USAGE)
    print(f"Compiled for {args.target}: {os.path.abspath(path)}")
    for name, default in sorted(runtime_parameter_defaults(path).items()):
        print(f"  runtime parameter {name}: " + ("no default, required" if default is None
                                                  else f"default {default}"))
    return EXIT_OK


def cmd_submit(args) -> int:
    return _submit_or_schedule(args, schedule=False)


def cmd_schedule(args) -> int:
    return _submit_or_schedule(args, schedule=True)


def _submit_or_schedule(args, schedule: bool) -> int:
    from pipeline.kubeflow import client as kc
    from pipeline.kubeflow.compiler import CompileError
    from pipeline.kubeflow.schedules import check_replace

    _quiet()
    try:
        params = kc.parse_params(args.param)
        if schedule:
            kc.check_cron(args.cron, args.target)
            check_replace(args.replace, args.job_name)
        target = _kfp_target(args) if args.target == "kfp" else _no_kfp_flags(args)
        with tempfile.TemporaryDirectory(prefix="imgpipe-compile-") as tmp:
            package = args.package or _compile_for_submit(args, tmp)
            print(_submit(args, target, package, params, schedule))
    except kc.SubmitError as e:
        return _fail(e, e.exit_code)
    except CompileError as e:
        return _fail(e, EXIT_USAGE)
    return EXIT_OK


def _kfp_target(args):
    from pipeline.kubeflow import client as kc
    return kc.kfp_target(args.host or _missing("--host URL of the KFP API, e.g. http://localhost:8080"),
                         args.namespace, args.token_file, args.cookie_file)


def _no_kfp_flags(args) -> None:
    """Vertex AI has its own project, region and Google credentials: KFP flags would be ignored silently.
    (--host is left alone: it was ignored with Vertex before these flags existed.)"""
    given = [flag for flag, value in (("--namespace", args.namespace), ("--token-file", args.token_file),
                                      ("--cookie-file", args.cookie_file),
                                      ("--replace", getattr(args, "replace", False))) if value]
    if given:
        _usage_error(f"{', '.join(given)} apply to --target kfp only; Vertex AI uses --project, --region "
                    "and Google Cloud credentials")


def cmd_schedules(args) -> int:
    from pipeline.kubeflow import client as kc
    from pipeline.kubeflow.schedules import manage_schedule

    _quiet()
    try:
        print(manage_schedule(_kfp_target(args), args.action, getattr(args, "schedule", "")))
    except kc.SubmitError as e:
        return _fail(e, e.exit_code)
    return EXIT_OK


def _usage_error(message: str) -> None:
    from pipeline.kubeflow.client import SubmitError
    raise SubmitError(message)


def _missing(what: str) -> str:
    _usage_error(f"missing {what}")


def _compile_for_submit(args, tmp: str) -> str:
    if not args.image or not args.pipeline_root:
        _missing("--package FILE, or --image and --pipeline-root to compile one")
    return _compile(args, os.path.join(tmp, default_package_name(args.target)))


def _submit(args, target, package: str, params, schedule: bool) -> str:
    from pipeline.kubeflow import client as kc

    root = args.pipeline_root or None
    if args.target == "kfp":
        if schedule:
            return "\n".join(_kfp_schedule(args, target, package, params, root))
        run_id = kc.kfp_submit(target, package, params, args.experiment, args.run_name, root)
        return f"Run created: {run_id}"
    credentials = kc.vertex_credentials()
    job = kc.vertex_job(package, params, root, args.project, args.region, credentials=credentials)
    print(kc.describe_vertex_job(job))
    kc.require_credentials(credentials)
    if schedule:
        name = kc.vertex_schedule(job, package, args.cron, job_name=args.job_name,
                                  service_account=args.service_account)
        return f"Vertex AI schedule created: {name} (cron {args.cron})"
    return "Vertex AI pipeline job submitted: " + kc.vertex_submit(job, service_account=args.service_account)


def _kfp_schedule(args, target, package: str, params, root):
    """Concurrency and catch-up come from the config (kubeflow.schedule_*), like every other knob."""
    from schemas.config import build_config
    from pipeline.kubeflow.schedules import ScheduleRequest, create_schedule

    knobs = build_config(args.config, args.overrides).kubeflow
    return create_schedule(target, ScheduleRequest(
        package, params, args.experiment, args.cron, job_name=args.job_name, pipeline_root=root,
        max_concurrency=knobs.schedule_max_concurrency, catchup=knobs.schedule_catchup,
        replace=args.replace))


def add_spec_commands(commands) -> None:
    """validate-spec and run-spec: will a compiled Kubeflow spec run? (pipeline/kubeflow/spec_check.py, spec_run.py)"""
    validate = add_command(commands, "validate-spec", "check a compiled KFP/Vertex spec: schema, DAG, "
                           "images, container commands, no resolver nodes", [
                               "imgpipe validate-spec imgpipe.yaml",
                               "imgpipe validate-spec imgpipe.json"])
    validate.add_argument("file", help="compiled .yaml (PipelineSpec) or .json (PipelineJob)")
    validate.set_defaults(func=cmd_validate_spec)
    run = add_command(commands, "run-spec", "run a compiled spec here, each task as a subprocess "
                      "with the executor input a KFP launcher would build", [
                          "# a spec compiled with local paths for the repository and the serving dir:",
                          "imgpipe compile --image imgpipe:dev --pipeline-root /tmp/specrun/root "
                          "--serving-dir /tmp/specrun/serving --source-dir-in-image \"$PWD\" "
                          "--output /tmp/specrun/imgpipe.yaml",
                          "imgpipe run-spec /tmp/specrun/imgpipe.yaml --workdir /tmp/specrun --oss "
                          "--param data_root=/path/to/images",
                          "imgpipe run-spec /tmp/specrun/imgpipe.yaml --workdir /tmp/specrun --oss --only Trainer"])
    run.add_argument("file", help="compiled .yaml (PipelineSpec) or .json (PipelineJob)")
    run.add_argument("--workdir", required=True, help="folder for artifacts, executor inputs/outputs and logs")
    run.add_argument("--oss", action="store_true", help="imitate open-source KFP v2: minio:// URIs mirrored "
                     "under the workdir, untyped upstream artifacts, no driver hook")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="pipeline (runtime) parameter value (repeatable)")
    run.add_argument("--entrypoint", choices=("spec", "ours", "stock"), default="spec",
                     help="container command: as compiled (default), ours (pipeline.kubeflow.entrypoint) "
                     "or stock (TFX's kubeflow_v2_run_executor)")
    run.add_argument("--only", action="append", default=[], metavar="TASK",
                     help="rerun only this task (repeatable), with the upstream outputs of an earlier run")
    run.add_argument("--run-id", default="", help="with --only: the earlier run (default: the last one)")
    run.add_argument("--until", default="", metavar="TASK",
                     help="stop after this task, e.g. --until Transform to try the data half of the pipeline")
    run.set_defaults(func=cmd_run_spec)


def cmd_validate_spec(args) -> int:
    from pipeline.kubeflow.spec_check import SpecError, load_spec, validate_spec
    try:
        problems = validate_spec(load_spec(args.file))
    except SpecError as e:
        raise InputError(str(e)) from None
    for problem in problems:
        print(f"{args.file}: {problem}")
    print(f"{args.file}: {len(problems)} problem(s)" if problems else f"{args.file}: OK")
    return EXIT_FAILED if problems else EXIT_OK


def cmd_run_spec(args) -> int:
    from pipeline.kubeflow.spec_check import SpecError, load_spec
    from pipeline.kubeflow.spec_run import RunOptions, run_spec
    params = dict(p.split("=", 1) for p in args.param if "=" in p)
    if len(params) != len(args.param):
        raise InputError(f"--param takes NAME=VALUE, got: {', '.join(p for p in args.param if '=' not in p)}")
    try:
        result = run_spec(load_spec(args.file), RunOptions(
            workdir=args.workdir, oss=args.oss, params=params, entrypoint=args.entrypoint,
            only=args.only, run_id=args.run_id, until=args.until))
    except SpecError as e:
        raise InputError(str(e)) from None
    failed = result.failed
    total = sum(t.seconds for t in result.tasks)
    skipped = [t.name for t in result.tasks if t.skipped]
    print(f"Failed at task {failed.name}" if failed else
          f"{len(result.tasks) - len(skipped)} task(s) succeeded, {len(skipped)} skipped by their trigger condition, "
          f"in {total:.1f} s" if skipped else f"All {len(result.tasks)} task(s) succeeded in {total:.1f} s")
    return EXIT_FAILED if failed else EXIT_OK
