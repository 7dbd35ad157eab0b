"""Everything Kubeflow Pipelines v2 / Vertex AI: compile (`compiler`), the spec's shared facts
(`spec`), submit/schedule (`client`), the CLI verbs (`cli`), the container entrypoint
(`entrypoint`) with its object-store mirrors (`mirrors`), and the offline spec tools:
`spec_check` (is a compiled spec well formed?) and `spec_run` (run it task by task here)."""
