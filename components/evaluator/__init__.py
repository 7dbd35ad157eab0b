"""The Evaluator, gated on the served baseline when there is one."""
from components.evaluator.component import GatedEvaluator, judged_splits, make_eval_config

__all__ = ["GatedEvaluator", "judged_splits", "make_eval_config"]
