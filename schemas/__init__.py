"""The shared vocabulary: the typed config (`config`), the feature and serving names
(`features`), process settings (`runtime`) and the curated data schemas (`demo/schema.pbtxt`).

The bottom layer: every package may import it, and it imports nothing of ours.
"""
