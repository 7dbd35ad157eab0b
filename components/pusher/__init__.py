"""Pushing a blessed model where TF Serving watches: atomic versions, retention, rollback."""
