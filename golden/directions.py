"""Time direction and initial state, one rule for the float, fixed-point and specification layers.

A layer function ``layer_fn(x, w, h0, c0) -> (h_seq, c_seq)`` runs forward in time.
Here (ONNX's convention, which Keras' ``Bidirectional`` shares):

* ``reverse``: the layer runs over the time-reversed sequence and its outputs are
  reversed back, so output step ``t`` has seen ``x[t:]``; its final state is the one at
  step 0 (the last one computed);
* ``bidirectional``: a forward and a reverse layer side by side, outputs concatenated
  (forward features first), each with its own initial state (``h0[0]``, ``h0[1]``) and
  final state.
"""

from __future__ import annotations

import numpy as np

from .lstm_float import ShapeError

FORWARD = "forward"
REVERSE = "reverse"
DIRECTIONS = (FORWARD, REVERSE)


def run_directed(layer_fn, x, w, h0=None, c0=None, reverse: bool = False):
    """``layer_fn`` over ``x`` (B, T, D), time-reversed when ``reverse`` (outputs in the
    input's time order)."""
    if not reverse:
        return layer_fn(x, w, h0, c0)
    h, c = layer_fn(np.asarray(x)[:, ::-1], w, h0, c0)
    return h[:, ::-1], c[:, ::-1]


def final_state(h_seq, c_seq, reverse: bool = False):
    """The state a layer ended in: the last step computed (step 0 when ``reverse``)."""
    k = 0 if reverse else -1
    return h_seq[:, k], c_seq[:, k]


def _direction_state(state, d: int, what: str):
    """Direction ``d``'s state of a pair (or a (2, B, H) array), or None."""
    if state is None:
        return None
    if len(state) != 2:
        raise ShapeError(f"bidirectional {what}: expected one state per direction (2 of them, "
                         f"forward first), got {len(state)}")
    return state[d]


def run_bidirectional(layer_fn, x, forward, backward, h0=None, c0=None):
    """Both directions: returns ``(h_seq, c_seq, h_n, c_n)``; sequences (B, T, H_f + H_b),
    the final states as pairs (forward, reverse) of (B, H) arrays (``np.stack`` gives ONNX's
    (2, B, H) when both directions have one size).  ``h0``, ``c0``: pairs likewise."""
    if forward.input_size != backward.input_size:
        raise ShapeError(f"bidirectional: forward layer takes {forward.input_size} features, "
                         f"backward layer {backward.input_size}")
    outs, finals = [], []
    for d, w in enumerate((forward, backward)):
        h, c = run_directed(layer_fn, x, w, _direction_state(h0, d, "initial_h"),
                            _direction_state(c0, d, "initial_c"), reverse=d == 1)
        outs.append((h, c))
        finals.append(final_state(h, c, reverse=d == 1))
    return (np.concatenate([outs[0][0], outs[1][0]], axis=-1),
            np.concatenate([outs[0][1], outs[1][1]], axis=-1),
            (finals[0][0], finals[1][0]), (finals[0][1], finals[1][1]))
