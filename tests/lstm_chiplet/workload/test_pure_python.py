"""The pure-Python baseline: the list-based LSTM step equals the numpy float reference."""

import numpy as np
import pytest

from golden.autoencoder import AutoencoderConfig, realistic_weights, synthetic_windows
from golden.lstm_float import ShapeError
from lstm_chiplet.workload.pure_python import LSTMCell as ListCell, reconstruct_windows, run_layer


def test_pure_python_equals_numpy_float_reference():
    cfg = AutoencoderConfig(3, (5, 4), (4, 6), 5)
    ae = realistic_weights(cfg, 11)
    x = synthetic_windows(3, cfg, 2)
    got = np.array(reconstruct_windows(ae, x))
    np.testing.assert_allclose(got, ae.reconstruct_float(x), rtol=0, atol=1e-9)
    # one layer's h sequence too
    cell = ListCell.from_weights(ae.layers[0])
    hs = np.array(run_layer(cell, x[0].tolist()))
    np.testing.assert_allclose(hs, ae.forward_float(x)["h"][0][0], rtol=0, atol=1e-9)


def test_pure_python_refuses_bad_shapes():
    with pytest.raises(ShapeError, match="4H"):
        ListCell([[0.0] * 8], [[0.0] * 8, [0.0] * 8], [0.0] * 7)
