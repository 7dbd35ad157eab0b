"""The Trainer's user code: `train.run_fn` (input pipeline, fit, export), the residual CNN
(`model`), train-only augmentation (`augment`), the serving signatures (`serving`),
distribution strategy (`distribution`) and TensorFlow runtime settings (`tf_runtime`)."""
