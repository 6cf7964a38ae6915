"""The workload: NOAA loaders, generated data, training, the golden benchmark, the pure-Python baseline."""
