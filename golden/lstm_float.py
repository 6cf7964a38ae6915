"""Float reference LSTM: the function the fixed-point model is measured against.

Weights are held in the Keras layout (the project's canonical one):

* ``kernel``    (D, 4H)  input weights,      columns in gate order i, f, g (Keras "c"), o
* ``recurrent`` (H, 4H)  recurrent weights,  same column order
* ``bias``      (4H,)

Equations (``*`` elementwise)::

    z = x @ kernel + h_prev @ recurrent + bias
    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c = f * c_prev + i * g
    h = o * tanh(c)

Optional extensions (off by default):

* peephole connections (``LSTMWeights.peephole``, shape (3, H), rows i, f, o): the
  input and forget gates see the previous cell state, the output gate the new one::

      z_i += p_i * c_prev    z_f += p_f * c_prev    z_o += p_o * c

* a bidirectional runner (:func:`bidirectional_layer`): a forward layer plus a second
  layer with its own weights on the time-reversed sequence, whose outputs are reversed
  back; the two are concatenated on the feature axis, (B, T, 2H).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .formats import FormatError

GATES = ("i", "f", "g", "o")
#: Rows of the peephole weights: the gates that see the cell state.
PEEPHOLE_GATES = ("i", "f", "o")


class ShapeError(ValueError):
    """A tensor has the wrong shape or gate count; the message names it."""


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise FormatError(f"{name}: {bad} value(s) are NaN or infinite")
    return a


@dataclass(frozen=True)
class LSTMWeights:
    """One LSTM layer's float weights in the Keras layout (see module docstring).

    Attributes
    ----------
    kernel : ndarray, (D, 4H)
    recurrent : ndarray, (H, 4H)
    bias : ndarray, (4H,)
    peephole : ndarray, (3, H), optional
        Peephole weights, rows i, f, o; ``None`` (the default) means no peepholes.
    """

    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray
    peephole: Optional[np.ndarray] = None

    def __post_init__(self):
        k = np.asarray(self.kernel, dtype=np.float64)
        r = np.asarray(self.recurrent, dtype=np.float64)
        b = np.asarray(self.bias, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] != 4 * r.shape[0]:
            raise ShapeError(f"recurrent kernel: expected shape (H, 4H), got {r.shape}")
        h = r.shape[0]
        if k.ndim != 2 or k.shape[1] != 4 * h:
            raise ShapeError(f"kernel: expected shape (D, 4H) = (D, {4 * h}), got {k.shape}")
        if b.shape != (4 * h,):
            raise ShapeError(f"bias: expected shape (4H,) = ({4 * h},), got {b.shape}")
        object.__setattr__(self, "kernel", _finite("kernel", k))
        object.__setattr__(self, "recurrent", _finite("recurrent kernel", r))
        object.__setattr__(self, "bias", _finite("bias", b))
        if self.peephole is not None:
            p = np.asarray(self.peephole, dtype=np.float64)
            if p.shape != (3, h):
                raise ShapeError(f"peephole: expected shape (3, H) = (3, {h}) (rows i, f, o), "
                                 f"got {p.shape}")
            object.__setattr__(self, "peephole", _finite("peephole", p))

    @property
    def has_peephole(self) -> bool:
        return self.peephole is not None

    def tensors(self) -> dict:
        """The layer's tensors by name (``peephole`` only when present)."""
        d = {"kernel": self.kernel, "recurrent": self.recurrent, "bias": self.bias}
        if self.peephole is not None:
            d["peephole"] = self.peephole
        return d

    @property
    def input_size(self) -> int:
        return self.kernel.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.recurrent.shape[0]

    @classmethod
    def from_keras(cls, kernel, recurrent, bias, peephole=None) -> "LSTMWeights":
        """Keras ``LSTM.get_weights()``: kernel (D,4H), recurrent (H,4H), bias (4H); i,f,c,o.

        ``peephole`` (3, H), rows i, f, o, is optional (Keras's plain LSTM has none).
        """
        return cls(kernel, recurrent, bias, peephole)

    @classmethod
    def from_pytorch(cls, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> "LSTMWeights":
        """PyTorch ``nn.LSTM``: weight_ih (4H,D), weight_hh (4H,H), biases (4H); i,f,g,o.

        PyTorch's gate order equals Keras's (its "g" is Keras's "c"), so the import is
        a transposition and the sum of the two biases.
        """
        wih = np.asarray(weight_ih, dtype=np.float64)
        whh = np.asarray(weight_hh, dtype=np.float64)
        if whh.ndim != 2 or whh.shape[0] != 4 * whh.shape[1]:
            raise ShapeError(f"weight_hh: expected shape (4H, H), got {whh.shape}")
        h = whh.shape[1]
        if wih.ndim != 2 or wih.shape[0] != 4 * h:
            raise ShapeError(f"weight_ih: expected shape (4H, D) = ({4 * h}, D), got {wih.shape}")
        bias = np.zeros(4 * h)
        for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
            if b is not None:
                b = np.asarray(b, dtype=np.float64)
                if b.shape != (4 * h,):
                    raise ShapeError(f"{name}: expected shape ({4 * h},), got {b.shape}")
                bias = bias + b
        return cls(wih.T.copy(), whh.T.copy(), bias)

    def to_pytorch(self) -> dict:
        """The same function as PyTorch tensors (bias all in ``bias_ih``)."""
        if self.peephole is not None:
            raise ShapeError("peephole: PyTorch nn.LSTM has no peephole weights; "
                             "this layer cannot be exported to its layout")
        return {"weight_ih": self.kernel.T.copy(), "weight_hh": self.recurrent.T.copy(),
                "bias_ih": self.bias.copy(), "bias_hh": np.zeros_like(self.bias)}


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class LSTMCell:
    """Float LSTM cell; ``step`` works on one vector or a batch (leading axes)."""

    def __init__(self, weights: LSTMWeights):
        self.w = weights

    def step(self, x, h_prev, c_prev):
        """One time step: returns ``(h, c)``."""
        w = self.w
        hs = w.hidden_size
        z = np.asarray(x) @ w.kernel + np.asarray(h_prev) @ w.recurrent + w.bias
        g = np.tanh(z[..., 2 * hs:3 * hs])
        if w.peephole is None:
            i = sigmoid(z[..., 0:hs])
            f = sigmoid(z[..., hs:2 * hs])
            o = sigmoid(z[..., 3 * hs:4 * hs])
            c = f * c_prev + i * g
        else:
            p = w.peephole
            i = sigmoid(z[..., 0:hs] + p[0] * c_prev)
            f = sigmoid(z[..., hs:2 * hs] + p[1] * c_prev)
            c = f * c_prev + i * g
            o = sigmoid(z[..., 3 * hs:4 * hs] + p[2] * c)
        h = o * np.tanh(c)
        return h, c


def check_sequences(x, input_size: int, what: str = "input") -> np.ndarray:
    """Validate a (batch, time, features) array; returns it as float64."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ShapeError(f"{what}: expected shape (batch, time, {input_size}), got {a.shape}")
    if a.shape[2] != input_size:
        raise ShapeError(f"{what}: expected {input_size} features per step, got {a.shape[2]} "
                         f"(shape {a.shape})")
    if a.shape[1] < 1:
        raise ShapeError(f"{what}: sequences have no time steps (shape {a.shape})")
    return _finite(what, a)


def lstm_layer(x, weights: LSTMWeights, h0=None, c0=None, reverse: bool = False):
    """Run one layer over (batch, time, D) -> (h_seq, c_seq), each (batch, time, H);
    from ``h0``, ``c0`` (default zero); ``reverse``: over the time-reversed sequence,
    outputs in input order (:mod:`golden.directions`)."""
    if reverse:
        from .directions import run_directed
        return run_directed(lstm_layer, x, weights, h0, c0, reverse=True)
    x = check_sequences(x, weights.input_size)
    b, t, _ = x.shape
    hs = weights.hidden_size
    h = np.zeros((b, hs)) if h0 is None else np.broadcast_to(h0, (b, hs)).astype(np.float64)
    c = np.zeros((b, hs)) if c0 is None else np.broadcast_to(c0, (b, hs)).astype(np.float64)
    cell = LSTMCell(weights)
    hseq = np.empty((b, t, hs))
    cseq = np.empty((b, t, hs))
    for s in range(t):
        h, c = cell.step(x[:, s], h, c)
        hseq[:, s] = h
        cseq[:, s] = c
    return hseq, cseq


def bidirectional_layer(x, forward: LSTMWeights, backward: LSTMWeights, h0=None, c0=None,
                        return_state: bool = False):
    """Bidirectional layer: (B, T, D) -> (h_seq, c_seq), each (B, T, 2H).

    Features ``[:H]`` come from ``forward`` run over the sequence, ``[H:]`` from
    ``backward`` run over the time-reversed sequence and reversed back, so step ``t``
    of the backward half has seen ``x[t:]``.  ``h0``, ``c0``: one initial state per
    direction, a pair (forward, backward) of (B, H) (default zero); ``return_state``
    adds the final states ``h_n``, ``c_n``, pairs likewise
    (:func:`golden.directions.run_bidirectional`).
    """
    from .directions import run_bidirectional

    x = check_sequences(x, forward.input_size)
    h, c, h_n, c_n = run_bidirectional(lstm_layer, x, forward, backward, h0, c0)
    return (h, c, h_n, c_n) if return_state else (h, c)
