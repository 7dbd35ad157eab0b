"""Tools on a serving directory: `imgpipe predict` and `imgpipe rollback`."""
