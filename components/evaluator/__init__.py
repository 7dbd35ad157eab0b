"""The Evaluator: TFX's own, with TFMA judging the candidate against the bar and the served model."""
