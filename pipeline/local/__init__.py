"""The local runner: LocalDagRunner + Beam DirectRunner + SQLite ML Metadata, and what only it uses."""
