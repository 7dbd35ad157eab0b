"""Transform's user code: `preprocessing.preprocessing_fn`, the graph training and serving share."""
