"""`imgpipe rollback`: make an older pushed version the one TF Serving serves, reversibly.

TF Serving serves the highest numeric folder, so rolling back to version V
renames every served version above V to `.rolled-back-<version>` (kept whole,
invisible to TF Serving), and rolling forward renames rolled-back versions up
to V back to their numbers. Renames run in the order that keeps "latest"
unchanged until the last one, so TF Serving sees exactly one switch, and a
crash half-way leaves either the old or the new latest serving, never a third.

The version that becomes latest must match its manifest (integrity.py): a version whose files
changed since the push is refused, naming them.

Semantics:
- no `--to`: back to the served version just below the newest;
- `--to V`: V becomes latest; V may be a served or a rolled-back version;
- `--restore`: every rolled-back version comes back (latest = newest ever pushed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from components.fs import is_remote, local_path
from components.pusher.integrity import IntegrityError, require_intact
from components.pusher.publish import (ROLLED_BACK_PREFIX, PublishError, rolled_back_versions,
                                       served_versions)


@dataclass
class RollbackResult:
    latest: int
    hidden: List[int]      # versions renamed to .rolled-back-<v>
    restored: List[int]    # versions renamed back to <v>


def choose_target(model_dir: str, to: Optional[int], restore: bool) -> int:
    """The version that will be latest; a refusal names the folder and the versions there are."""
    served, hidden = served_versions(model_dir), rolled_back_versions(model_dir)
    known = sorted(served + hidden)
    if not known:
        raise PublishError(f"no pushed versions in {model_dir}: nothing to roll back "
                           "(check --serving-dir and --model)")
    if restore:
        return known[-1]
    if to is not None:
        if to not in known:
            raise PublishError(f"version {to} is not in {model_dir}; versions there: "
                               + ", ".join(map(str, known)))
        return to
    if len(served) < 2:
        raise PublishError(f"only {len(served)} served version in {model_dir}: nothing older to roll back to "
                           + ("(use --restore to bring back rolled-back versions)" if hidden else ""))
    return served[-2]


def rollback(model_dir: str, to: Optional[int] = None, restore: bool = False) -> RollbackResult:
    """Make `to` (default: the previous served version) the latest; see the module docstring."""
    if is_remote(model_dir):
        raise PublishError(f"rollback needs a local serving folder (renames are not atomic on {model_dir}); "
                           "run it where the folder is mounted")
    target = choose_target(model_dir, to, restore)
    model_dir = local_path(model_dir)
    hidden = target in rolled_back_versions(model_dir)
    try:
        require_intact(os.path.join(model_dir, f"{ROLLED_BACK_PREFIX}{target}" if hidden else str(target)),
                       f"version {target}")
    except IntegrityError as e:
        raise PublishError(f"not rolled back: {e}") from None
    restore_list = [v for v in rolled_back_versions(model_dir) if v <= target]
    hide_list = [v for v in served_versions(model_dir) if v > target]
    # Newest first: rolling forward switches latest once (to the target); the rest are below it.
    for version in sorted(restore_list, reverse=True):
        os.rename(os.path.join(model_dir, f"{ROLLED_BACK_PREFIX}{version}"), os.path.join(model_dir, str(version)))
    # Hiding from the lowest up keeps the old latest served until the very last rename.
    for version in sorted(hide_list):
        os.rename(os.path.join(model_dir, str(version)), os.path.join(model_dir, f"{ROLLED_BACK_PREFIX}{version}"))
    return RollbackResult(latest=target, hidden=sorted(hide_list), restored=sorted(restore_list))
