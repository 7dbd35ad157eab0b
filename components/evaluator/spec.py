"""The Evaluator's interface: its node id, what it records on its blessing and evaluation, and the typed
config of the paired gate (TFMA hands a metric its config as JSON text)."""
from __future__ import annotations

import dataclasses

from components.evaluator.paired import GateRules
from schemas.config import EvalConfig

NODE_ID = "Evaluator"
CANDIDATE, BASELINE = "candidate", "baseline"   # TFMA model names
# Custom properties on the ModelBlessing (TFX's own `blessed` is features.BLESSED_PROPERTY)
GATE_BLESSED_PROPERTY = "gate_blessed"  # the gate's verdict, before any override
FORCED_PROPERTY = "forced_bless"        # eval.force_bless overrode the gate
FORCE_REASON_PROPERTY = "force_reason"
# ... and on the ModelEvaluation: the candidate's accuracy on the judged images (`imgpipe runs` reads it)
TEST_ACCURACY_PROPERTY = "test_accuracy"
# ... and, when TFMA did not run again (reuse.py), the run and evaluation the verdict was taken from
REUSED_FROM_RUN_PROPERTY = "reused_from_run"
REUSED_FROM_PROPERTY = "reused_from_evaluation"
# exec property the Evaluator records: the Examples splits it judged (JSON list)
EXAMPLE_SPLITS_PROPERTY = "example_splits"


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """What the PairedGate metric reads from its MetricConfig: the rules, and a forced push's reason."""
    rules: GateRules
    force_reason: str = ""

    @classmethod
    def from_eval_config(cls, eval_cfg: EvalConfig) -> "GateConfig":
        rules = GateRules(**{f.name: getattr(eval_cfg, f.name) for f in dataclasses.fields(GateRules)})
        return cls(rules=rules, force_reason=eval_cfg.force_reason if eval_cfg.force_bless else "")
