"""The user's current code path: an LSTM cell on Python lists, one step at a time.

This is what the project is asked to speed up: ``LSTMCell.step(x, h_prev, c_prev)``
written with lists of floats, explicit loops and ``math.exp`` / ``math.tanh``, called
96 times per window of the reference autoencoder (24 steps x 4 layers).  The
matrix-vector products inside ``step`` dominate its run time.  It is kept faithful on
purpose (no numpy, no precomputed transposes beyond the weight rows the user keeps)
so that the benchmark's speed-up figures compare against the real starting point.

Equations (Keras gate order i, f, g, o)::

    z_j = b_j + sum_k x_k Wk[k][j] + sum_k h_k Wr[k][j]      for j in 0 .. 4H-1
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c = f c_prev + i g;  h = o tanh(c)
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

from golden.lstm_float import LSTMWeights, ShapeError


def sigmoid(v: float) -> float:
    """Logistic function with ``math.exp``, safe for large |v|."""
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


class LSTMCell:
    """One LSTM layer on lists of floats (weights as nested lists, Keras layout).

    Parameters
    ----------
    kernel : list of D lists of 4H floats
    recurrent : list of H lists of 4H floats
    bias : list of 4H floats
    """

    def __init__(self, kernel: Sequence[Sequence[float]], recurrent: Sequence[Sequence[float]],
                 bias: Sequence[float]):
        self.kernel = [list(map(float, row)) for row in kernel]
        self.recurrent = [list(map(float, row)) for row in recurrent]
        self.bias = list(map(float, bias))
        self.hidden_size = len(self.recurrent)
        self.input_size = len(self.kernel)
        four_h = 4 * self.hidden_size
        if len(self.bias) != four_h or any(len(r) != four_h for r in self.kernel + self.recurrent):
            raise ShapeError(f"pure-Python cell: kernel rows, recurrent rows and bias must all have "
                             f"4H = {four_h} entries")

    @classmethod
    def from_weights(cls, w: LSTMWeights) -> "LSTMCell":
        return cls(w.kernel.tolist(), w.recurrent.tolist(), w.bias.tolist())

    def step(self, x: List[float], h_prev: List[float], c_prev: List[float]
             ) -> Tuple[List[float], List[float]]:
        """One time step on lists: returns ``(h, c)``."""
        hs = self.hidden_size
        z = list(self.bias)
        for k in range(self.input_size):
            xk = x[k]
            row = self.kernel[k]
            for j in range(4 * hs):
                z[j] += xk * row[j]
        for k in range(hs):
            hk = h_prev[k]
            row = self.recurrent[k]
            for j in range(4 * hs):
                z[j] += hk * row[j]
        h = [0.0] * hs
        c = [0.0] * hs
        for j in range(hs):
            i = sigmoid(z[j])
            f = sigmoid(z[hs + j])
            g = math.tanh(z[2 * hs + j])
            o = sigmoid(z[3 * hs + j])
            c[j] = f * c_prev[j] + i * g
            h[j] = o * math.tanh(c[j])
        return h, c


def run_layer(cell: LSTMCell, sequence: List[List[float]]) -> List[List[float]]:
    """Run a cell over a list of input vectors from zero state; returns the h of every step."""
    h = [0.0] * cell.hidden_size
    c = [0.0] * cell.hidden_size
    out = []
    for x in sequence:
        h, c = cell.step(x, h, c)
        out.append(h)
    return out


class PureAutoencoder:
    """The autoencoder forward pass with :class:`LSTMCell` (lists only).

    Built from a :class:`golden.autoencoder.Autoencoder`; ``reconstruct(window)``
    takes one window as a list of T lists of F floats.
    """

    def __init__(self, ae):
        self.timesteps = ae.cfg.timesteps
        self.features = ae.cfg.features
        ne = len(ae.cfg.encoder_sizes)
        self.encoder = [LSTMCell.from_weights(w) for w in ae.layers[:ne]]
        self.decoder = [LSTMCell.from_weights(w) for w in ae.layers[ne:]]
        self.dense_kernel = ae.dense_kernel.tolist()
        self.dense_bias = ae.dense_bias.tolist()

    def reconstruct(self, window: List[List[float]]) -> List[List[float]]:
        if len(window) != self.timesteps or any(len(v) != self.features for v in window):
            raise ShapeError(f"pure-Python autoencoder: a window is {self.timesteps} lists of "
                             f"{self.features} values")
        seq = window
        for cell in self.encoder:
            seq = run_layer(cell, seq)
        latent = seq[-1]
        seq = [latent] * self.timesteps
        for cell in self.decoder:
            seq = run_layer(cell, seq)
        out = []
        for h in seq:
            y = list(self.dense_bias)
            for k, hk in enumerate(h):
                row = self.dense_kernel[k]
                for f in range(self.features):
                    y[f] += hk * row[f]
            out.append(y)
        return out


def reconstruct_windows(ae, windows) -> list:
    """Reconstruct each window (anything iterable as T x F numbers) with the list code path."""
    model = PureAutoencoder(ae)
    return [model.reconstruct([[float(v) for v in step] for step in w]) for w in windows]
