"""Model files and importers: the project's model file, Keras and PyTorch weights, layer files."""
