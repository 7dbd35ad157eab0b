"""Schedules (KFP recurring runs): create, replace, list, pause, resume, delete.

KFP cannot edit a recurring run in place, so `--replace` swaps one for another, in
the order that never leaves the user without the old schedule unless the new one
exists: create the new one paused, delete the old same-named one(s), then resume
the new one. A failed create leaves the old one untouched and says so. Creating it
paused keeps the old and new from both starting a run in between.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Dict, List, Optional

from pipeline.exit_codes import EXIT_FAILED, EXIT_USAGE
from pipeline.kubeflow.client import (KfpTarget, SubmitError, api_errors, check_cron, check_package,
                                      check_params, connect, default_run_name)

PAGE_SIZE = 100


@dataclasses.dataclass(frozen=True)
class Schedule:
    """What `imgpipe schedules list` shows of one recurring run."""
    name: str
    id: str
    cron: str
    state: str     # "enabled" or "paused"
    created: str   # UTC, to the minute
    pipeline: str  # the pipeline version id, or "inline <pipeline name> <spec hash>"


@dataclasses.dataclass(frozen=True)
class ScheduleRequest:
    """One `imgpipe schedule`: what to run, when, and how (defaults: kubeflow.* in schemas/config/running.py)."""
    package: str
    params: Dict[str, str]
    experiment: str
    cron: str
    job_name: str = ""
    pipeline_root: Optional[str] = None
    max_concurrency: int = 1
    catchup: bool = False
    replace: bool = False


def list_schedules(client, namespace: str) -> List[Schedule]:
    """Every recurring run in the namespace (all pages), oldest first."""
    found, token = [], ""
    while True:
        page = client.list_recurring_runs(page_token=token, page_size=PAGE_SIZE, namespace=namespace or None)
        found += [_schedule(r) for r in page.recurring_runs or []]
        token = page.next_page_token
        if not token:
            return sorted(found, key=lambda s: (s.created, s.name, s.id))


def _schedule(run) -> Schedule:
    trigger = run.trigger
    if trigger and trigger.cron_schedule and trigger.cron_schedule.cron:
        cron = trigger.cron_schedule.cron
    elif trigger and trigger.periodic_schedule:
        cron = f"every {trigger.periodic_schedule.interval_second} s"
    else:
        cron = "-"
    enabled = (run.status == "ENABLED") if run.status not in (None, "STATUS_UNSPECIFIED") else run.mode == "ENABLE"
    created = run.created_at.strftime("%Y-%m-%d %H:%M UTC") if run.created_at else "-"
    return Schedule(run.display_name or "", run.recurring_run_id, cron, "enabled" if enabled else "paused",
                    created, _pipeline_version(run))


def _pipeline_version(run) -> str:
    """The pipeline version it runs; for a spec sent inline (what `imgpipe schedule` does), its
    pipeline name and a hash, so two schedules of the same compiled spec show the same value."""
    reference = run.pipeline_version_reference
    if reference and reference.pipeline_version_id:
        return reference.pipeline_version_id
    if run.pipeline_version_id:
        return run.pipeline_version_id
    if run.pipeline_spec:
        spec = run.pipeline_spec.get("pipeline_spec", run.pipeline_spec)  # kfp may wrap it with platform_spec
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
        return f"inline {spec.get('pipelineInfo', {}).get('name', '?')} {digest}"
    return "-"


def format_schedules(schedules: List[Schedule], namespace: str) -> str:
    """A table, one schedule a line; names may hold spaces, so columns are padded, not split."""
    if not schedules:
        return f"No schedules in {_where(namespace)}."
    header = Schedule("NAME", "ID", "CRON", "STATE", "CREATED", "PIPELINE VERSION")
    rows = [dataclasses.astuple(s) for s in [header, *schedules]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header.__dataclass_fields__))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _where(namespace: str) -> str:
    return f"namespace {namespace!r}" if namespace else "this KFP (no --namespace)"


def find_schedule(schedules: List[Schedule], ref: str, namespace: str) -> Schedule:
    """The schedule whose id is `ref`, else the one schedule named `ref`."""
    by_id = [s for s in schedules if s.id == ref]
    if by_id:
        return by_id[0]
    named = [s for s in schedules if s.name == ref]
    if len(named) == 1:
        return named[0]
    if named:
        raise SubmitError(f"{len(named)} schedules in {_where(namespace)} are named {ref!r} (ids "
                          f"{', '.join(s.id for s in named)}): give the id instead")
    raise SubmitError(f"no schedule with id or name {ref!r} in {_where(namespace)}; "
                      "`imgpipe schedules list` shows them")


ACTIONS = {"pause": ("disable_recurring_run", "Paused"), "resume": ("enable_recurring_run", "Resumed"),
           "delete": ("delete_recurring_run", "Deleted")}


def manage_schedule(target: KfpTarget, action: str, ref: str = "") -> str:
    """`imgpipe schedules list|pause|resume|delete`: the text to print."""
    with api_errors(target):
        client, target = connect(target)
    with api_errors(target):
        schedules = list_schedules(client, target.namespace)
        if action == "list":
            return format_schedules(schedules, target.namespace)
        schedule = find_schedule(schedules, ref, target.namespace)
        method, done = ACTIONS[action]
        getattr(client, method)(recurring_run_id=schedule.id)
    return f"{done} schedule {schedule.name!r} ({schedule.id}) in {_where(target.namespace)}"


def check_replace(replace: bool, job_name: str) -> None:
    if replace and not job_name:
        raise SubmitError("--replace needs --job-name NAME: the schedule to replace is found by its name",
                          EXIT_USAGE)


def create_schedule(target: KfpTarget, request: ScheduleRequest) -> List[str]:
    """Create the recurring run (replacing same-named ones with `request.replace`); lines to print."""
    cron = check_cron(request.cron, "kfp")
    check_package(request.package, "kfp")
    check_params(request.package, request.params)
    check_replace(request.replace, request.job_name)
    with api_errors(target):
        client, target = connect(target)
    with api_errors(target):
        old = [s for s in list_schedules(client, target.namespace) if s.name == request.job_name] \
            if request.replace else []
        new_id = _create(client, target, request, cron, enabled=not old, keep=old)
    lines = [f"Recurring run created: {new_id} (cron {cron}, max concurrency {request.max_concurrency}, "
             f"catch-up {'on' if request.catchup else 'off'})"]
    if old:
        lines += _swap(client, target, old, new_id)
    return lines


def _create(client, target: KfpTarget, request: ScheduleRequest, cron: str, enabled: bool, keep) -> str:
    """The new recurring run's id; when it cannot be made, the message says the old ones survive."""
    try:
        with api_errors(target):
            experiment = client.create_experiment(name=request.experiment, namespace=target.namespace or None)
            job = client.create_recurring_run(
                experiment_id=experiment.experiment_id,
                job_name=request.job_name or default_run_name(request.package, "schedule"),
                cron_expression=cron, params=request.params, pipeline_package_path=request.package,
                pipeline_root=request.pipeline_root, no_catchup=not request.catchup,
                max_concurrency=request.max_concurrency, enabled=enabled)
    except SubmitError as e:
        if keep:
            raise SubmitError(f"{e}; nothing was replaced: {_names(keep)} still runs as before",
                              e.exit_code) from None
        raise
    return job.recurring_run_id


def _swap(client, target: KfpTarget, old: List[Schedule], new_id: str) -> List[str]:
    """Delete the old schedules, then resume the new one (created paused)."""
    lines = []
    for schedule in old:
        try:
            with api_errors(target):
                client.delete_recurring_run(recurring_run_id=schedule.id)
        except SubmitError as e:
            raise SubmitError(f"{e}; the new schedule {new_id} exists, paused, and {_names([schedule])} was "
                              f"not deleted: run `imgpipe schedules delete {schedule.id}` then "
                              f"`imgpipe schedules resume {new_id}`", EXIT_FAILED) from None
        lines.append(f"Replaced schedule {schedule.name!r}: deleted {schedule.id}")
    try:
        with api_errors(target):
            client.enable_recurring_run(recurring_run_id=new_id)
    except SubmitError as e:
        raise SubmitError(f"{e}; the old schedule(s) are deleted and the new one {new_id} is paused: run "
                          f"`imgpipe schedules resume {new_id}`", EXIT_FAILED) from None
    return lines


def _names(schedules: List[Schedule]) -> str:
    return ", ".join(f"schedule {s.name!r} ({s.id})" for s in schedules)
