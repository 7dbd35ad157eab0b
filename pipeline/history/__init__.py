"""Run history: one run as ML Metadata recorded it, the run summary, `imgpipe runs` and the HTML report."""
