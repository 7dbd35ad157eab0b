"""OnDeviceModel: the trained network as TFLite (float32 and int8), judged against the SavedModel, pushed beside it."""
