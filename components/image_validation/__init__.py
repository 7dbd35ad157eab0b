"""Image-aware data validation that gates training.

The modules read in one direction, each importing only earlier ones:
facts (one image's facts) -> extract (Beam over the Examples) -> checks, leakage, drift
(findings) -> report (the JSON and summary) -> validate (all checks -> report) ->
reference (the previous accepted run, the expected classes) -> component (the TFX
component, wiring only).
"""
