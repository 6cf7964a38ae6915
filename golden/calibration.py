"""Calibration: the value ranges a float autoencoder reaches on data, and the integer
bits of the fixed-point formats that hold them without saturating.

:func:`calibrate` runs the float model (:func:`golden.lstm_float.lstm_layer` through
:func:`golden.autoencoder.run_layers`) on calibration windows and records, per LSTM
layer, the largest magnitude of

``x``
    the layer's input (the windows, the previous layer's h, or the repeated latent vector),
``h``, ``c``
    hidden and cell states,
``z_i``, ``z_f``, ``z_g``, ``z_o``
    the gate pre-activations ``z = x Wk + h_prev Wr + b`` (recomputed from the layer's
    input and its h sequence),
``act``
    the sigmoid and tanh outputs (never above 1),
``kernel``, ``recurrent``, ``bias``
    the weight tensors;

and for the Dense layer ``kernel``, ``bias`` and ``y`` (the reconstruction).

Each format *slot* (a layer and a role of :class:`golden.formats.LSTMFormats`, or the
Dense layer's ``weight`` / ``out``) covers several tensors, because the datapath gives
them one format (:data:`ROLE_TENSORS`):

* ``vec`` holds x and h of its layer (layer k + 1's input is layer k's h, requantized
  into layer k + 1's vec when the formats differ);
* ``weight`` the three weight tensors of the layer;
* ``preact`` the four gate pre-activations and c (they share the activation table).
  tanh is looked up at 2|z| in the sigmoid table, which ends at ``preact.max``, so
  tanh of z_g and of c is exact only for |z| <= preact.max / 2 and saturates at
  tanh(preact.max / 2) beyond (not a clamp the kernels count: the table's end).  The
  slot therefore covers twice the peak of z_g and c, but no further than where tanh is
  within half an ``act`` LSB of 1 (:func:`tanh_flat`);
* ``act`` the activation outputs; 1.0 must be representable whatever the data say,
  so its peak is at least 1.

Integer bits (:func:`integer_bits`): the fewest with which the slot's peak, widened by
the head-room, lies inside the format's range: ``peak * (1 + headroom) <= fmt.max``.
The default head-room :data:`DEFAULT_HEADROOM` = 1/8 leaves room for data a little
beyond the calibration set and for the fixed-point values straying from float.
Integer bits may be negative (a tensor below 1/2 gains fraction bits) down to
:data:`MIN_INT_BITS`; ``preact`` is capped at the activation table's limit (at most
4096 entries, :data:`MAX_PREACT_INT_BITS`), beyond which it saturates and the
caller is told (:attr:`FittedSlot.capped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from .autoencoder import Autoencoder, run_layers
from .formats import TABLE_STEP_LOG2, DenseFormats, FormatError, LSTMFormats, ModelFormats, QFormat
from .lstm_float import lstm_layer, sigmoid

#: Fewest calibration windows accepted (a range measured on fewer says little).
MIN_WINDOWS = 20
#: Default head-room over the measured peak: integer bits for peak * (1 + 1/8).
DEFAULT_HEADROOM = 0.125
#: Lowest integer bits (excluding the sign) a calibrated format may get.
MIN_INT_BITS = -8
#: The activation table covers at most 2^12 entries of step 2^-TABLE_STEP_LOG2 over
#: the preact range, so preact may have at most 12 - TABLE_STEP_LOG2 integer bits.
MAX_PREACT_INT_BITS = 12 - TABLE_STEP_LOG2

LSTM_ROLES = ("vec", "weight", "preact", "act")
DENSE_ROLES = ("weight", "out")
#: The tensors each format role holds (its peak is the largest of theirs).
ROLE_TENSORS = {
    "vec": ("x", "h"),
    "weight": ("kernel", "recurrent", "bias"),
    "preact": ("z_i", "z_f", "z_g", "z_o", "c"),
    "act": ("act",),
}
DENSE_ROLE_TENSORS = {"weight": ("kernel", "bias"), "out": ("y",)}
LSTM_TENSORS = ("x", "h", "z_i", "z_f", "z_g", "z_o", "c", "act", "kernel", "recurrent", "bias")
DENSE_TENSORS = ("kernel", "bias", "y")
#: Tensors whose value depends on the window (the others are weights).
DATA_TENSORS = ("x", "h", "z_i", "z_f", "z_g", "z_o", "c", "act", "y")


class CalibrationError(ValueError):
    """Calibration data or parameters that cannot be used; the message names them."""


def _peak(a) -> float:
    a = np.asarray(a)
    return float(np.max(np.abs(a))) if a.size else 0.0


@dataclass
class Calibration:
    """Measured ranges of a model on calibration windows.

    Attributes
    ----------
    layer_names : tuple of str
    layers : tuple of dict
        Per LSTM layer, tensor name (:data:`LSTM_TENSORS`) -> largest magnitude.
    dense : dict
        ``kernel``, ``bias``, ``y`` -> largest magnitude.
    windows : int
        How many windows were measured.
    window_peaks : dict
        ``(layer index or "dense", tensor) -> (N,)`` largest magnitude in each window,
        for the data tensors (to pick the windows that reach the extremes).
    """

    layer_names: tuple
    layers: tuple
    dense: dict
    windows: int
    window_peaks: Dict[Tuple[object, str], np.ndarray] = field(default_factory=dict, repr=False)

    def slot_peak(self, unit, role: str, act: Optional[QFormat] = None) -> float:
        """The peak a slot's format must hold (``unit``: layer index or ``"dense"``).

        ``preact`` needs the layer's ``act`` format (see the module docstring: the
        tanh inputs z_g and c count twice, up to :func:`tanh_flat`)."""
        if unit == "dense":
            if role not in DENSE_ROLE_TENSORS:
                raise CalibrationError(f"calibration: dense role must be one of {DENSE_ROLES}, "
                                       f"got {role!r}")
            return max(self.dense[t] for t in DENSE_ROLE_TENSORS[role])
        if role not in ROLE_TENSORS:
            raise CalibrationError(f"calibration: role must be one of {LSTM_ROLES}, got {role!r}")
        peak = max(self.layers[unit][t] for t in ROLE_TENSORS[role])
        if role == "preact":
            if act is None:
                raise CalibrationError("calibration: the preact range depends on the act format "
                                       "(tanh is looked up at twice its input); pass act")
            tanh_in = max(self.layers[unit]["z_g"], self.layers[unit]["c"])
            peak = max(peak, min(2.0 * tanh_in, 2.0 * tanh_flat(act)))
        return max(peak, 1.0) if role == "act" else peak

    def slots(self):
        """Every ``(unit, role)`` slot: each LSTM layer's four roles, then the Dense layer's."""
        out = [(k, r) for k in range(len(self.layers)) for r in LSTM_ROLES]
        return out + [("dense", r) for r in DENSE_ROLES]

    def to_dict(self) -> dict:
        return {"windows": self.windows,
                "layers": [dict(name=n, **{t: v for t, v in d.items()})
                           for n, d in zip(self.layer_names, self.layers)],
                "dense": dict(self.dense)}


def tanh_flat(act: QFormat) -> float:
    """The input beyond which tanh lies within half an LSB of ``act`` from 1."""
    return float(np.arctanh(1.0 - act.lsb / 2.0))


def check_calibration_windows(windows, cfg, what: str = "calibration windows",
                              min_windows: int = MIN_WINDOWS) -> np.ndarray:
    """Windows (N, T, F) of the model's shape, finite, at least ``min_windows`` of them."""
    try:
        a = np.asarray(windows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{what}: not a numeric array ({exc})") from None
    expect = f"(N, {cfg.timesteps}, {cfg.features})"
    if a.ndim != 3 or a.shape[1:] != (cfg.timesteps, cfg.features):
        raise CalibrationError(f"{what}: expected shape {expect} (N windows of the model's "
                               f"{cfg.timesteps} steps and {cfg.features} features), got {a.shape}")
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        rows = np.nonzero(~np.isfinite(a).all(axis=(1, 2)))[0]
        raise CalibrationError(f"{what}: {bad} value(s) are NaN or infinite (in {rows.size} "
                               f"window(s), first {rows[:5].tolist()})")
    if len(a) < min_windows:
        raise CalibrationError(f"{what}: {len(a)} window(s), at least {min_windows} are needed "
                               "for the ranges to mean anything")
    return a


def layer_tensors(seq, w, h0=None, c0=None):
    """The float layer over ``seq`` (B, T, D) and every data tensor of :data:`LSTM_TENSORS`
    it produces: returns ``(h_seq, c_seq, {x, h, c, act, z_i, z_f, z_g, z_o})``.

    The gate pre-activations are recomputed from the input and the h sequence (with the
    initial state ``h0``, ``c0`` where given, and the peephole terms where the layer has
    them: z_i and z_f see c_prev, z_o the new c, as in :func:`golden.lstm_float.lstm_layer`).
    """
    hseq, cseq = lstm_layer(seq, w, h0, c0)
    b, hs = hseq.shape[0], w.hidden_size

    def first(state):
        return np.zeros((b, 1, hs)) if state is None else np.broadcast_to(state, (b, hs))[:, None]
    h_prev = np.concatenate([first(h0), hseq[:, :-1]], axis=1)
    z = seq @ w.kernel + h_prev @ w.recurrent + w.bias
    gates = {f"z_{g}": z[..., j * hs:(j + 1) * hs] for j, g in enumerate("ifgo")}
    if getattr(w, "peephole", None) is not None:
        c_prev = np.concatenate([first(c0), cseq[:, :-1]], axis=1)
        p = np.asarray(w.peephole, dtype=np.float64)
        gates["z_i"] = gates["z_i"] + p[0] * c_prev
        gates["z_f"] = gates["z_f"] + p[1] * c_prev
        gates["z_o"] = gates["z_o"] + p[2] * cseq
    acts = np.concatenate([sigmoid(gates["z_i"]), sigmoid(gates["z_f"]), np.tanh(gates["z_g"]),
                           sigmoid(gates["z_o"]), np.tanh(cseq)], axis=-1)
    return hseq, cseq, dict(x=seq, h=hseq, c=cseq, act=acts, **gates)


def calibrated_layer_formats(x, w, h0=None, c0=None, word_bits: int = 16,
                             headroom: float = DEFAULT_HEADROOM, base: Optional[LSTMFormats] = None
                             ) -> LSTMFormats:
    """The :class:`LSTMFormats` of one float layer ``w`` (:class:`golden.lstm_float.LSTMWeights`,
    peepholes included) calibrated on its own input ``x`` (B, T, D) and initial state.

    The same rules as :func:`calibrated_formats` for an autoencoder's layer: vec holds x,
    h and h0; weight every weight tensor (the peepholes too); preact the gate
    pre-activations, c and c0 (tanh inputs twice, up to :func:`tanh_flat`).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != w.input_size:
        raise CalibrationError(f"calibration input: expected shape (batch, time, {w.input_size}), "
                               f"got {x.shape}")
    if not np.isfinite(x).all():
        raise CalibrationError("calibration input: values are NaN or infinite")
    _, _, data = layer_tensors(x, w, h0, c0)
    peaks = {t: _peak(v) for t, v in data.items()}
    for t, state in (("h", h0), ("c", c0)):
        if state is not None:
            peaks[t] = max(peaks[t], _peak(state))
    peep = getattr(w, "peephole", None)
    peaks.update(kernel=_peak(w.kernel), recurrent=_peak(w.recurrent),
                 # the peepholes share the weight format: counted with the bias
                 bias=max(_peak(w.bias), 0.0 if peep is None else _peak(peep)))
    cal = Calibration(("layer",), (peaks,), {"kernel": 0.0, "bias": 0.0, "y": 0.0}, len(x))
    return _layer_formats(cal, 0, lambda role: word_bits, headroom, base)


def _layer_formats(cal: Calibration, k: int, width, headroom: float,
                   base: Optional[LSTMFormats]) -> LSTMFormats:
    """Layer ``k``'s calibrated formats, ``width(role)`` bits per role; ``base`` gives the
    rounding and overflow modes."""
    fm = {}
    for r in ("vec", "weight", "act", "preact"):     # preact's range depends on act
        fm[r] = fitted_format(cal.slot_peak(k, r, fm.get("act")), width(r), r, headroom, 0,
                              None if base is None else getattr(base, r)).fmt
    return LSTMFormats(*(fm[r] for r in LSTM_ROLES))


def calibrate(model: Autoencoder, windows, min_windows: int = MIN_WINDOWS,
              what: str = "calibration windows") -> Calibration:
    """Measure every tensor's range of the float ``model`` on ``windows`` (see module doc)."""
    cfg = model.cfg
    x = check_calibration_windows(windows, cfg, what, min_windows)
    n = len(x)
    window_peaks: Dict[Tuple[object, str], np.ndarray] = {}
    layers = []

    def per_window(a):
        return np.abs(a).reshape(n, -1).max(axis=1) if a.size else np.zeros(n)

    def record(seq, w):
        k = len(layers)
        hseq, cseq, data = layer_tensors(seq, w)
        peaks = {}
        for t in LSTM_TENSORS:
            if t in data:
                wp = per_window(data[t])
                window_peaks[(k, t)] = wp
                peaks[t] = float(wp.max())
            else:
                peaks[t] = _peak(getattr(w, t))
        layers.append(peaks)
        return hseq, cseq

    hs, _, _ = run_layers(x, model.layers, cfg, record)
    y = hs[-1] @ model.dense_kernel + model.dense_bias
    window_peaks[("dense", "y")] = per_window(y)
    dense = {"kernel": _peak(model.dense_kernel), "bias": _peak(model.dense_bias),
             "y": float(window_peaks[("dense", "y")].max())}
    names = tuple(cfg.layer_name(k) for k in range(cfg.num_layers))
    return Calibration(names, tuple(layers), dense, n, window_peaks)


def integer_bits(peak: float, word_bits: int, headroom: float = DEFAULT_HEADROOM) -> int:
    """Fewest integer bits (sign excluded, at least :data:`MIN_INT_BITS`) of a signed
    ``word_bits`` format whose range holds ``peak * (1 + headroom)``.

    Raises :class:`CalibrationError` when no ``word_bits`` format holds it.
    """
    if not np.isfinite(peak) or peak < 0:
        raise CalibrationError(f"calibration: peak must be finite and non-negative, got {peak!r}")
    if not np.isfinite(headroom) or headroom < 0:
        raise CalibrationError(f"calibration: headroom must be finite and non-negative, "
                               f"got {headroom!r}")
    need = peak * (1.0 + headroom)
    for i in range(MIN_INT_BITS, word_bits):
        if QFormat(word_bits, word_bits - 1 - i).max >= need:
            return i
    raise CalibrationError(f"calibration: magnitude {need:g} (peak {peak:g} with head-room "
                           f"{headroom:g}) does not fit a {word_bits}-bit signed format")


@dataclass(frozen=True)
class FittedSlot:
    """A slot's calibrated format and how it was reached.

    Attributes
    ----------
    fmt : QFormat
    int_bits : int
        Integer bits the calibration asked for (before a cap).
    capped : bool
        True when ``preact`` needed more integer bits than the activation table allows
        (the format then saturates on the calibration data).
    """

    fmt: QFormat
    int_bits: int
    capped: bool = False


def fitted_format(peak: float, word_bits: int, role: str, headroom: float = DEFAULT_HEADROOM,
                  offset: int = 0, base: Optional[QFormat] = None) -> FittedSlot:
    """The ``word_bits`` format of a slot of ``role`` for ``peak``.

    ``offset`` moves the integer bits away from the calibrated choice (a search may
    trade a rare saturation, offset < 0, for one more fraction bit).  ``base`` gives
    the rounding and overflow modes (default: round half up, saturate).
    """
    i = integer_bits(peak, word_bits, headroom)
    want = i + int(offset)
    capped = False
    if role == "preact" and want > MAX_PREACT_INT_BITS:
        want, capped = MAX_PREACT_INT_BITS, True
    if role == "act":
        want = max(want, 1)             # 1.0 must be representable
    frac = word_bits - 1 - want
    if role == "preact" and frac < TABLE_STEP_LOG2:
        raise FormatError(f"preact: {word_bits} bits with {want} integer bits leave {frac} "
                          f"fraction bits, the activation table needs {TABLE_STEP_LOG2}")
    if want >= word_bits:
        raise FormatError(f"{role}: {want} integer bits do not fit {word_bits} bits")
    kw = {} if base is None else {"rounding": base.rounding, "overflow": base.overflow}
    return FittedSlot(QFormat(word_bits, frac, True, name=role, **kw), i, capped)


def calibrated_formats(cal: Calibration, word_bits=16, headroom: float = DEFAULT_HEADROOM,
                       base: Optional[ModelFormats] = None) -> ModelFormats:
    """Per-layer formats with the calibrated integer bits of every slot.

    ``word_bits``: one width for every slot, or a dict ``role -> width`` (roles
    ``vec``, ``weight``, ``preact``, ``act``; the Dense layer's weight takes
    ``weight``, its out ``vec``).  ``base`` gives rounding and overflow modes.
    """
    def width(role):
        return word_bits[role] if isinstance(word_bits, dict) else int(word_bits)

    layers = [_layer_formats(cal, k, width, headroom, None if base is None else base.layers[k])
              for k in range(len(cal.layers))]
    dense = [fitted_format(cal.slot_peak("dense", d), width(r), r, headroom, 0,
                           None if base is None else getattr(base.dense, d)).fmt.renamed(d)
             for d, r in (("weight", "weight"), ("out", "vec"))]
    return ModelFormats(tuple(layers), DenseFormats(*dense))


def ranges_table(cal: Calibration) -> list:
    """Rows ``{"layer", "tensor", "peak"}`` of every measured tensor, in model order."""
    rows = [{"layer": name, "tensor": t, "peak": peaks[t]}
            for name, peaks in zip(cal.layer_names, cal.layers) for t in LSTM_TENSORS]
    return rows + [{"layer": "dense", "tensor": t, "peak": cal.dense[t]} for t in DENSE_TENSORS]


__all__ = ["Calibration", "CalibrationError", "FittedSlot", "calibrate", "calibrated_formats",
           "check_calibration_windows", "fitted_format", "integer_bits", "ranges_table", "tanh_flat",
           "DEFAULT_HEADROOM", "MIN_WINDOWS"]
