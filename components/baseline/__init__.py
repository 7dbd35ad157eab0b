"""ServedModelBaseline: the model served now, copied for the Evaluator to compare with."""
