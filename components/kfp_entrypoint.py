"""Moved: specs compiled by imgpipe 0.1 call `python -m components.kfp_entrypoint`.

The container entrypoint is now `pipeline.kubeflow.entrypoint`, and the user code
the spec names moved with it (components.trainer.train.run_fn,
components.transform.preprocessing.preprocessing_fn). An old spec cannot run on a
new image, so this stops at once with what to do instead of failing deep inside TFX.
"""
import sys

MESSAGE = ("imgpipe: error: this pipeline spec was compiled by imgpipe 0.1 (it runs "
           "`python -m components.kfp_entrypoint`, which moved to pipeline.kubeflow.entrypoint). "
           "Recompile it with this image's `imgpipe compile ...` and upload the new spec.")

if __name__ == "__main__":
    print(MESSAGE, file=sys.stderr)
    sys.exit(2)
