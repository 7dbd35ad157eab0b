"""Data validation against a schema: TFDV statistics, schema, anomalies, and the gate that stops the run."""
