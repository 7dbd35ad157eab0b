"""Tuner: TFX's Tuner component searching learning rate, width, depth, dropout (and the backbone) with
KerasTuner's oracles; trials are fitted by our own tf_keras code and scored on the validation split."""
