"""ServedModelBaseline's interface: its node id and what it records on its Model artifact."""
NODE_ID = "ServedModelBaseline"
FOUND_PROPERTY = "baseline_found"    # 1 when a served model was copied, 0 on a first run
SOURCE_PROPERTY = "baseline_source"  # the served version's path, "" when none
