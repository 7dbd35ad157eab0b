"""Is there data the served model has not seen? The check (TF-free) and the NewDataCheck component."""
