"""Model files and importers: the project's model file, Keras (.keras, .h5, get_weights() .npz), ONNX and PyTorch files, layer files, and ``inspect``."""
