"""Derived upper bounds on |fixed - float| for LSTM layers and the autoencoder.

Two bounds, both rigorous (no tuned constant; every term is derived in
``docs/error_bound.md``):

:func:`static_bound` / :func:`static_autoencoder_bound`
    From the formats, the weights and the sequence length alone, valid for every
    input sequence whose values lie in a given box (``[0, 1]`` for min-max scaled
    windows).  Interval arithmetic gives the range of every float quantity at every
    step; worst-case errors are propagated through each requantization with the
    Lipschitz constants of sigmoid and tanh over those ranges.  Because it must hold
    for the worst input, its per-step gain is the absolute row sum of the weights and
    it grows geometrically with T: useful for small layers and short sequences, loose
    for the reference topology (the benchmark prints it anyway).

:func:`trajectory_bound` / :func:`trajectory_autoencoder_bound`
    Per example: linearised along the float trajectory of one input window, with
    every rounding, table and second-order error kept as a signed *error symbol*
    (affine arithmetic).  Errors therefore cancel through the weights exactly as far
    as signs allow, and only the magnitudes of the independent local errors are
    taken worst case.  Second-order terms are bounded with the maxima of
    |sigmoid''| and |tanh''| over the reachable interval and added as new symbols;
    table errors are the exact per-code maxima over the reachable codes; where the
    linearisation stops paying (saturation, wide intervals) the interval image takes
    over.  The bound stays rigorous.  This is the bound whose tightness the benchmark
    reports: about 10x for one layer, growing with depth (see the document).

Both return :class:`ErrorBound`: per layer (T, H) arrays bounding |h_fixed - h_float|
and |c_fixed - c_float| at every step and unit, and for the autoencoder a (T, F)
bound on the reconstruction.  "float" is the float64 reference evaluated with the
*original* float weights when they are known (weight quantization then enters as the
exact difference ``W_q - W``) or, given only the fixed weights, any float model whose
weights round to them (``|W_q - W| <= half an LSB``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import List, Optional, Sequence

import numpy as np

from .activations import SIGMOID, TANH, activate, error_bound_lsb
from .formats import FormatError, LSTMFormats, QFormat
from .lstm_fixed import FixedLSTMWeights
from .lstm_float import LSTMWeights, ShapeError, sigmoid

#: max |sigmoid''| = 1/(6 sqrt 3) = 0.0962250..., rounded up.
SIGMOID_D2 = 0.09623
#: max |tanh''| = 4/(3 sqrt 3) = 0.7698003..., rounded up.
TANH_D2 = 0.76981
#: Relative (and absolute, for values of order 1) allowance for float64 rounding in
#: the reference and in the bound's own arithmetic: the true figure is ~1e-15.
EVAL_SLACK = 1e-12
#: A linearised error is replaced by its interval image (keeping only a magnitude)
#: when that image is smaller than this fraction of the linearised bound: the
#: linearisation has stopped paying for itself (any value in (0, 1] is sound).
COLLAPSE = 0.5
#: Unit round-off of float64.
_U = 2.0 ** -53


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

@dataclass
class LayerErrorBound:
    """Bounds of one LSTM layer: ``h`` and ``c`` are (T, H) arrays (per step, per unit).

    ``h_sigma`` (trajectory bound only) is an *estimate*, not a bound: the standard
    deviation of the h error if every error symbol were independent and uniform.
    """

    name: str
    h: np.ndarray
    c: np.ndarray
    h_sigma: Optional[np.ndarray] = None

    @property
    def h_per_step(self) -> np.ndarray:
        """Largest bound over the units at each step, (T,)."""
        return self.h.max(axis=-1)

    @property
    def c_per_step(self) -> np.ndarray:
        return self.c.max(axis=-1)


@dataclass
class ErrorBound:
    """Bounds of a stack of layers (and of the autoencoder's reconstruction).

    Attributes
    ----------
    method : str
        ``static`` or ``trajectory``.
    layers : list of LayerErrorBound
    reconstruction : ndarray (T, F) or None
        Bound on |reconstruction_fixed - reconstruction_float| per step and feature.
    reconstruction_sigma : ndarray (T, F) or None
        (trajectory only) estimate, not a bound: standard deviation of the
        reconstruction error if every error symbol were independent and uniform.
    reconstruction_centre : ndarray (T, F) or None
        (trajectory only) the deterministic part of the error (weight and input
        quantization, floor bias), known exactly.
    gain : float or None
        (static only) largest step-to-step growth of a layer's h bound over the second
        half of the sequence: above 1 the bound grows geometrically with T.
    """

    method: str
    layers: List[LayerErrorBound]
    reconstruction: Optional[np.ndarray] = None
    gain: Optional[float] = None
    reconstruction_sigma: Optional[np.ndarray] = None
    reconstruction_centre: Optional[np.ndarray] = None
    notes: dict = field(default_factory=dict)

    @property
    def reconstruction_max(self) -> float:
        if self.reconstruction is None:
            raise ValueError("this bound has no reconstruction (not an autoencoder)")
        return float(self.reconstruction.max())

    def to_dict(self) -> dict:
        d = {"method": self.method,
             "layers": [{"name": lb.name, "h_per_step": lb.h_per_step.tolist(),
                         "c_per_step": lb.c_per_step.tolist()} for lb in self.layers]}
        if self.reconstruction is not None:
            d["reconstruction_per_step"] = self.reconstruction.max(axis=-1).tolist()
            d["reconstruction_max"] = self.reconstruction_max
        if self.gain is not None:
            d["gain"] = self.gain
        return d


# --------------------------------------------------------------------------
# Terms shared by both bounds
# --------------------------------------------------------------------------

def rounding_error(fmt: QFormat, from_frac: int):
    """(centre, radius) of ``requantize(a) - a`` when ``from_frac`` bits drop to ``fmt``.

    Round half up (``nearest_posinf``) errs in (-1/2, 1/2] LSB: centre 0, radius 1/2.
    Floor errs in (-1, 0] LSB: centre -1/2, radius 1/2.  Nothing is dropped when
    ``from_frac <= fmt.frac_bits``.  Saturation is handled separately.
    """
    if from_frac <= fmt.frac_bits:
        return 0.0, 0.0
    if fmt.rounding == "nearest_posinf":
        return 0.0, 0.5 * fmt.lsb
    return -0.5 * fmt.lsb, 0.5 * fmt.lsb


def quantization_error(fmt: QFormat):
    """(centre, radius) of ``quantize(x) - x`` for real x inside ``fmt``'s range."""
    if fmt.rounding == "nearest_posinf":
        return 0.0, 0.5 * fmt.lsb
    return -0.5 * fmt.lsb, 0.5 * fmt.lsb


def activation_error(kind: str, fmts: LSTMFormats) -> float:
    """Bound on |table activation - math function| over every pre-activation code.

    :func:`golden.activations.error_bound_lsb` (interpolation, entry rounding, final
    rounding and the clamped tail) in real units.
    """
    return error_bound_lsb(kind, fmts) * fmts.act.lsb


def check_saturating(fmts: LSTMFormats, what: str = "error bound") -> None:
    """The bounds assume saturation: a wrapping format can err by its whole range."""
    for name in ("vec", "weight", "preact", "act"):
        f = getattr(fmts, name)
        if f.overflow != "saturate":
            raise FormatError(f"{what}: format {name} ({f.describe()}) wraps on overflow; "
                              "the bound is derived for saturating formats only")


#: Largest pre-activation code count for which the per-code table errors are indexed.
_MAX_INDEXED_CODES = 1 << 20


@lru_cache(maxsize=16)
def _table_error_index(fmts: LSTMFormats):
    """Range-maximum tables of |table activation - math function| over preact codes.

    ``out[kind][l, i]`` is the largest error over codes ``i .. i + 2^l - 1`` (offset by
    ``preact.int_min``); None when the format has too many codes to index.
    """
    pre = fmts.preact
    count = pre.int_max - pre.int_min + 1
    if count > _MAX_INDEXED_CODES:
        return None
    z = np.arange(pre.int_min, pre.int_max + 1, dtype=np.int64)
    zr = pre.to_float(z)
    out = {}
    for kind, fn in ((SIGMOID, sigmoid), (TANH, np.tanh)):
        err = np.abs(fmts.act.to_float(activate(z, kind, fmts)) - fn(zr))
        err = err * (1.0 + 1e-9) + 4 * _U           # float64 evaluation of fn
        levels = [err]
        width = 1
        while 2 * width <= count:
            prev = levels[-1]
            levels.append(np.maximum(prev[:count - 2 * width + 1], prev[width:count - width + 1]))
            width *= 2
        table = np.zeros((len(levels), count))
        for level, a in enumerate(levels):
            table[level, :a.size] = a
        out[kind] = table
    return out


def table_error_near(v, E, kind: str, fmts: LSTMFormats):
    """Bound on |table activation - math function| at any code within E of the reals v.

    The largest per-code error over the codes the fixed value can take (exact: every
    code is evaluated once); :func:`activation_error` when the codes are not indexed.
    """
    idx = _table_error_index(fmts)
    v = np.asarray(v, dtype=np.float64)
    glob = activation_error(kind, fmts)
    if idx is None:
        return np.full(v.shape, glob)
    pre = fmts.preact
    lo = np.ceil((v - E) / pre.lsb - 1e-6)
    hi = np.floor((v + E) / pre.lsb + 1e-6)
    lo = np.clip(lo, pre.int_min, pre.int_max)
    hi = np.clip(hi, pre.int_min, pre.int_max)
    ok = lo <= hi
    lo_i = np.where(ok, lo, pre.int_min).astype(np.int64) - pre.int_min
    hi_i = np.where(ok, hi, pre.int_min).astype(np.int64) - pre.int_min
    span = hi_i - lo_i + 1
    lev = np.floor(np.log2(span)).astype(np.int64)
    lev = np.where((1 << (lev + 1)) <= span, lev + 1, lev)        # guard log2 rounding
    lev = np.where((1 << lev) > span, lev - 1, lev)
    table = idx[kind]
    m = np.maximum(table[lev, lo_i], table[lev, hi_i - (1 << lev) + 1])
    return np.where(ok, np.minimum(m, glob), glob)


def _dist_outside(lo, hi, fmt: QFormat):
    """Distance of the interval [lo, hi] beyond ``fmt``'s range (0 inside)."""
    return np.maximum(0.0, np.maximum(np.asarray(hi) - fmt.max, fmt.min - np.asarray(lo)))


def _weight_parts(w_fixed: FixedLSTMWeights, w_float: Optional[LSTMWeights]):
    """Quantized weights as reals and the weight-quantization error (exact or a radius)."""
    fw = w_fixed.fmts.weight
    q = {n: fw.to_float(getattr(w_fixed, n)) for n in ("kernel", "recurrent", "bias")}
    if w_float is None:
        return q, None
    for n in ("kernel", "recurrent", "bias"):
        if getattr(w_float, n).shape != q[n].shape:
            raise ShapeError(f"{n}: float weights {getattr(w_float, n).shape} and fixed weights "
                             f"{q[n].shape} differ in shape")
    return q, {n: q[n] - getattr(w_float, n) for n in q}


def _weight_radius(fmt: QFormat) -> float:
    """|W_q - W| for unknown float weights that round to W_q (``fmt``: the weight format)."""
    c, r = quantization_error(fmt)
    return abs(c) + r


def _dsigmoid(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def _dtanh(z):
    t = np.tanh(z)
    return 1.0 - t * t


def _max_derivative(lo, hi, deriv):
    """max of an even function decreasing in |z| (sigmoid', tanh') over [lo, hi]."""
    m = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    return deriv(m)


#: |sigmoid''| peaks at |z| = ln(2 + sqrt 3); |tanh''| at |z| = atanh(1/sqrt 3).
_SIGMOID_D2_AT = math.log(2.0 + math.sqrt(3.0))
_TANH_D2_AT = math.atanh(1.0 / math.sqrt(3.0))


def _abs_d2_sigmoid(z):
    s = sigmoid(z)
    return np.abs(s * (1.0 - s) * (1.0 - 2.0 * s))


def _abs_d2_tanh(z):
    t = np.tanh(z)
    return np.abs(2.0 * t * (1.0 - t * t))


def _max_second_derivative(v, E, kind: str):
    """Upper bound of |act''| over [v - E, v + E] (|act''| rises then falls in |z|)."""
    fn, peak, top = ((_abs_d2_sigmoid, _SIGMOID_D2_AT, SIGMOID_D2) if kind == SIGMOID
                     else (_abs_d2_tanh, _TANH_D2_AT, TANH_D2))
    lo, hi = v - E, v + E
    a = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    b = np.maximum(np.abs(lo), np.abs(hi))
    inner = np.where(b < peak, fn(b), fn(a))
    m = np.where((a <= peak) & (b >= peak), top, inner)
    # float evaluation of |act''| errs by far less than 1e-12 relative
    return np.minimum(m * (1.0 + 1e-9) + 1e-15, top)


def _interval_mul(al, ah, bl, bh):
    p = np.stack([al * bl, al * bh, ah * bl, ah * bh])
    return p.min(axis=0), p.max(axis=0)


# --------------------------------------------------------------------------
# Static bound: intervals and worst-case error propagation
# --------------------------------------------------------------------------

def _static_layer(w_fixed: FixedLSTMWeights, w_float: Optional[LSTMWeights], x_lo, x_hi, ex):
    """Propagate one layer over T steps.

    ``x_lo``, ``x_hi``, ``ex``: (T, D) ranges of the float input and bounds on the
    input error.  Returns (h_lo, h_hi, eh, ec), arrays (T, H).
    """
    fmts = w_fixed.fmts
    hs = w_fixed.hidden_size
    q, dw = _weight_parts(w_fixed, w_float)
    K, R, B = q["kernel"], q["recurrent"], q["bias"]
    if w_float is not None:
        Kf, Rf, Bf = w_float.kernel, w_float.recurrent, w_float.bias
        adK, adR, adB = np.abs(dw["kernel"]), np.abs(dw["recurrent"]), np.abs(dw["bias"])
    else:
        rw = _weight_radius(fmts.weight)
        Kf, Rf, Bf = K, R, B          # ranges of the float z: within rw of these (added below)
        adK, adR, adB = np.full(K.shape, rw), np.full(R.shape, rw), np.full(B.shape, rw)
    Kp, Kn = np.maximum(Kf, 0), np.minimum(Kf, 0)
    Rp, Rn = np.maximum(Rf, 0), np.minimum(Rf, 0)
    aK, aR = np.abs(K), np.abs(R)
    zc, zr = rounding_error(fmts.preact, fmts.acc_frac)
    cc_, cr = rounding_error(fmts.preact, max(fmts.act.frac_bits + fmts.preact.frac_bits,
                                              2 * fmts.act.frac_bits))
    hc, hr = rounding_error(fmts.vec, 2 * fmts.act.frac_bits)
    tau_s, tau_t = activation_error(SIGMOID, fmts), activation_error(TANH, fmts)
    t_steps = x_lo.shape[0]
    h_lo = np.zeros(hs)
    h_hi = np.zeros(hs)
    c_lo = np.zeros(hs)
    c_hi = np.zeros(hs)
    eh = np.zeros(hs)
    ec = np.zeros(hs)
    out = {k: np.empty((t_steps, hs)) for k in ("h_lo", "h_hi", "eh", "ec")}
    n_terms = w_fixed.input_size + hs + 2
    for t in range(t_steps):
        xl, xh = x_lo[t], x_hi[t]
        ax = np.maximum(np.abs(xl), np.abs(xh))
        ah = np.maximum(np.abs(h_lo), np.abs(h_hi))
        z_lo = Bf + xl @ Kp + xh @ Kn + h_lo @ Rp + h_hi @ Rn
        z_hi = Bf + xh @ Kp + xl @ Kn + h_hi @ Rp + h_lo @ Rn
        mag = ax @ np.abs(Kf) + ah @ np.abs(Rf) + np.abs(Bf)
        if w_float is None:               # the unknown float weights lie within rw
            spread = ax @ adK + ah @ adR + adB
            z_lo, z_hi = z_lo - spread, z_hi + spread
        slack_z = n_terms * _U * 1.01 * mag + EVAL_SLACK
        ez = (ex[t] @ aK + eh @ aR + ax @ adK + ah @ adR + adB
              + abs(zc) + zr + slack_z)
        ez = ez + _dist_outside(z_lo, z_hi, fmts.preact)
        # gates: |act(z^) - act(z)| <= max act' on the enclosing interval * ez + table error
        lo, hi = z_lo - ez, z_hi + ez
        dmax = np.concatenate([_max_derivative(lo[:2 * hs], hi[:2 * hs], _dsigmoid),
                               _max_derivative(lo[2 * hs:3 * hs], hi[2 * hs:3 * hs], _dtanh),
                               _max_derivative(lo[3 * hs:], hi[3 * hs:], _dsigmoid)])
        tau = np.concatenate([np.full(2 * hs, tau_s), np.full(hs, tau_t), np.full(hs, tau_s)])
        eg = dmax * ez + tau + EVAL_SLACK
        g_lo = np.concatenate([sigmoid(z_lo[:2 * hs]), np.tanh(z_lo[2 * hs:3 * hs]),
                               sigmoid(z_lo[3 * hs:])])
        g_hi = np.concatenate([sigmoid(z_hi[:2 * hs]), np.tanh(z_hi[2 * hs:3 * hs]),
                               sigmoid(z_hi[3 * hs:])])
        sl = slice(0, hs), slice(hs, 2 * hs), slice(2 * hs, 3 * hs), slice(3 * hs, 4 * hs)
        (i_lo, f_lo, gg_lo, o_lo) = (g_lo[s] for s in sl)
        (i_hi, f_hi, gg_hi, o_hi) = (g_hi[s] for s in sl)
        (e_i, e_f, e_g, e_o) = (eg[s] for s in sl)
        # c^ - c = f^(c^p - cp) + cp (f^ - f) + i^(g^ - g) + g (i^ - i) + rounding
        acp = np.maximum(np.abs(c_lo), np.abs(c_hi))
        ag = np.maximum(np.abs(gg_lo), np.abs(gg_hi))
        f_max = np.minimum(f_hi + e_f, 1.0)
        i_max = np.minimum(i_hi + e_i, 1.0)
        fc_lo, fc_hi = _interval_mul(f_lo, f_hi, c_lo, c_hi)
        ig_lo, ig_hi = _interval_mul(i_lo, i_hi, gg_lo, gg_hi)
        nc_lo, nc_hi = fc_lo + ig_lo, fc_hi + ig_hi
        ec_new = (f_max * ec + acp * e_f + i_max * e_g + ag * e_i + abs(cc_) + cr
                  + EVAL_SLACK * (1.0 + acp))
        ec_new = ec_new + _dist_outside(nc_lo, nc_hi, fmts.preact)
        # tanh(c) and h = o tanh(c)
        dt = _max_derivative(nc_lo - ec_new, nc_hi + ec_new, _dtanh)
        e_t = dt * ec_new + tau_t + EVAL_SLACK
        t_lo, t_hi = np.tanh(nc_lo), np.tanh(nc_hi)
        at = np.maximum(np.abs(t_lo), np.abs(t_hi))
        o_max = np.minimum(o_hi + e_o, 1.0)
        nh_lo, nh_hi = _interval_mul(o_lo, o_hi, t_lo, t_hi)
        eh_new = o_max * e_t + at * e_o + abs(hc) + hr + EVAL_SLACK
        eh_new = eh_new + _dist_outside(nh_lo, nh_hi, fmts.vec)
        h_lo, h_hi, c_lo, c_hi, eh, ec = nh_lo, nh_hi, nc_lo, nc_hi, eh_new, ec_new
        out["h_lo"][t], out["h_hi"][t], out["eh"][t], out["ec"][t] = h_lo, h_hi, eh, ec
    return out["h_lo"], out["h_hi"], out["eh"], out["ec"]


def _check_stack(layers) -> None:
    """Sizes chain from layer to layer and every layer's formats saturate."""
    for k, w in enumerate(layers):
        if k and w.input_size != layers[k - 1].hidden_size:
            raise ShapeError(f"layer {k + 1}: input size {w.input_size} differs from layer {k}'s "
                             f"hidden size {layers[k - 1].hidden_size}")
        check_saturating(w.fmts, f"error bound, layer {k + 1}")


def _check_model_formats(formats, names) -> None:
    for name, f in zip(names, formats.layers):
        check_saturating(f, f"error bound, {name}")
    for role in ("weight", "out"):
        f = getattr(formats.dense, role)
        if f.overflow != "saturate":
            raise FormatError(f"error bound: dense {role} format ({f.describe()}) wraps on "
                              "overflow; the bound is derived for saturating formats only")


def _requant_static(lo, hi, e, src: QFormat, dst: QFormat):
    """Bound after h (float range [lo, hi], error e, in ``src``) is requantized to ``dst``.

    Rounding to fewer fraction bits adds its centre and radius; saturation at the
    destination's range can only move the fixed value towards that range, so it adds
    no more than the float value's distance outside it.
    """
    if src == dst:
        return e
    c, r = rounding_error(dst, src.frac_bits)
    return e + abs(c) + r + _dist_outside(lo, hi, dst)


def _requant_form(h, hf: "_Form", src: QFormat, dst: QFormat, sym: "_Symbols"):
    """Error form of h (float value ``h``, in ``src``) after requantization to ``dst``.

    The rounding error of every unit becomes a new symbol; where the interval
    ``h +- |error|`` reaches beyond ``dst``'s range, only a magnitude survives (the
    clamp is 1-Lipschitz towards the range), plus the float value's distance outside.
    Returns the new form and the bound per unit.
    """
    if src == dst:
        return hf, hf.bound()
    n = sym.n
    hs = h.shape[0]
    c, r = rounding_error(dst, src.frac_bits)
    centre = hf.centre + c
    A = hf.rows(n)
    loc = np.full(hs, r)
    E = np.abs(centre) + np.abs(A).sum(axis=0) + loc
    sat = (h - E < dst.min) | (h + E > dst.max)
    centre, A, loc = _collapse(sat, centre, A, loc, E + _dist_outside(h, h, dst))
    sym.n = n + hs
    form = _Form(centre, np.concatenate([A, np.diag(loc)], axis=0))
    return form, form.bound()


def _input_box(input_range, t_steps: int, d: int, fmt: QFormat):
    lo, hi = input_range
    x_lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (d,)).astype(np.float64)
    x_hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (d,)).astype(np.float64)
    if np.any(x_lo > x_hi) or not (np.all(np.isfinite(x_lo)) and np.all(np.isfinite(x_hi))):
        raise ShapeError(f"input_range: need finite lo <= hi per feature, got {input_range!r}")
    qc, qr = quantization_error(fmt)
    ex = np.full(d, abs(qc) + qr) + _dist_outside(x_lo, x_hi, fmt)
    return (np.tile(x_lo, (t_steps, 1)), np.tile(x_hi, (t_steps, 1)), np.tile(ex, (t_steps, 1)))


def static_bound(layers: Sequence[FixedLSTMWeights], steps: int, input_range=(0.0, 1.0),
                 float_layers: Optional[Sequence[LSTMWeights]] = None,
                 names: Optional[Sequence[str]] = None) -> ErrorBound:
    """Input-independent bound for a stack of LSTM layers over ``steps`` time steps.

    Parameters
    ----------
    layers : sequence of FixedLSTMWeights
        The fixed-point stack (first layer first), each in its own formats; where
        layer k + 1's ``vec`` differs from layer k's, h is requantized between them.
    steps : int
        Sequence length T.
    input_range : (lo, hi)
        Box holding every input value (scalars or per-feature arrays); the fixed
        input is ``vec.quantize`` of it.
    float_layers : sequence of LSTMWeights, optional
        The float weights the fixed ones came from (exact weight-quantization
        error); without them, any float weights that round to the fixed ones.
    """
    if int(steps) != steps or steps < 1:
        raise ShapeError(f"steps: must be a positive integer, got {steps!r}")
    layers = list(layers)
    if not layers:
        raise ShapeError("layers: need at least one LSTM layer")
    _check_stack(layers)
    x_lo, x_hi, ex = _input_box(input_range, int(steps), layers[0].input_size, layers[0].fmts.vec)
    out = []
    for k, w in enumerate(layers):
        wf = None if float_layers is None else float_layers[k]
        if k:
            ex = _requant_static(x_lo, x_hi, ex, layers[k - 1].fmts.vec, w.fmts.vec)
        x_lo, x_hi, ex, ec = _static_layer(w, wf, x_lo, x_hi, ex)
        out.append(LayerErrorBound(names[k] if names else f"LSTM {k + 1}", ex, ec))
    return ErrorBound("static", out, gain=_growth(out))


def _growth(layers) -> float:
    """Largest step-to-step growth factor of a layer's h bound over the last half of T."""
    g = 1.0
    for lb in layers:
        e = lb.h_per_step
        half = len(e) // 2
        if len(e) - half >= 2:
            g = max(g, float(np.max(e[half + 1:] / e[half:-1])))
    return g


def _dense_static(fixed_ae, h_lo, h_hi, eh):
    fm = fixed_ae.formats
    fw, fo = fm.dense.weight, fm.output
    Kq, Bq = fw.to_float(fixed_ae.dense_kernel), fw.to_float(fixed_ae.dense_bias)
    if fixed_ae.source is not None:
        Kf, Bf = fixed_ae.source.dense_kernel, fixed_ae.source.dense_bias
        adK, adB = np.abs(Kq - Kf), np.abs(Bq - Bf)
    else:
        rw = _weight_radius(fw)
        Kf, Bf = Kq, Bq
        adK, adB = np.full(Kq.shape, rw), np.full(Bq.shape, rw)
    ah = np.maximum(np.abs(h_lo), np.abs(h_hi))
    y_lo = Bf + h_lo @ np.maximum(Kf, 0) + h_hi @ np.minimum(Kf, 0)
    y_hi = Bf + h_hi @ np.maximum(Kf, 0) + h_lo @ np.minimum(Kf, 0)
    if fixed_ae.source is None:
        spread = ah @ adK + adB
        y_lo, y_hi = y_lo - spread, y_hi + spread
    yc, yr = rounding_error(fo, fm.dense_acc_frac)
    mag = ah @ np.abs(Kf) + np.abs(Bf)
    ey = (eh @ np.abs(Kq) + ah @ adK + adB + abs(yc) + yr
          + (Kq.shape[0] + 2) * _U * 1.01 * mag + EVAL_SLACK)
    return ey + _dist_outside(y_lo, y_hi, fo)


def static_autoencoder_bound(fixed_ae, input_range=(0.0, 1.0)) -> ErrorBound:
    """Input-independent bound for a :class:`golden.autoencoder.FixedAutoencoder`.

    Valid for every window whose values lie in ``input_range`` (default the
    min-max-scaled box [0, 1]); float weights are ``fixed_ae.source`` when known.
    """
    cfg = fixed_ae.cfg
    t_steps = cfg.timesteps
    src = fixed_ae.source
    fm = fixed_ae.formats
    _check_model_formats(fm, fixed_ae.layer_names)
    x_lo, x_hi, ex = _input_box(input_range, t_steps, cfg.features, fm.input)
    out = []
    ne = len(cfg.encoder_sizes)
    for k, w in enumerate(fixed_ae.layers):
        if k == ne:       # the latent vector (last encoder step) repeated T times
            x_lo = np.tile(x_lo[-1], (t_steps, 1))
            x_hi = np.tile(x_hi[-1], (t_steps, 1))
            ex = np.tile(ex[-1], (t_steps, 1))
        if k:
            ex = _requant_static(x_lo, x_hi, ex, fm.layers[k - 1].vec, fm.layers[k].vec)
        wf = None if src is None else src.layers[k]
        x_lo, x_hi, ex, ec = _static_layer(w, wf, x_lo, x_hi, ex)
        out.append(LayerErrorBound(cfg.layer_name(k), ex, ec))
    ey = _dense_static(fixed_ae, x_lo, x_hi, ex)
    return ErrorBound("static", out, reconstruction=ey, gain=_growth(out),
                      notes={"input_range": [np.asarray(input_range[0]).tolist(),
                                             np.asarray(input_range[1]).tolist()]})


# --------------------------------------------------------------------------
# Trajectory bound: affine arithmetic along the float trajectory
# --------------------------------------------------------------------------

class _Form:
    """An error ``centre + A.T @ eps`` with every symbol ``eps_k`` in [-1, 1].

    ``A`` has one row per error symbol created so far (rows missing at the end are
    zero: symbols are only ever appended).
    """

    __slots__ = ("centre", "A")

    def __init__(self, centre, A):
        self.centre = centre
        self.A = A

    def rows(self, n: int) -> np.ndarray:
        a = self.A
        if a.shape[0] == n:
            return a
        return np.concatenate([a, np.zeros((n - a.shape[0], a.shape[1]))], axis=0)

    def bound(self) -> np.ndarray:
        return np.abs(self.centre) + np.abs(self.A).sum(axis=0)


class _Symbols:
    """Counter of the error symbols created so far (shared by a whole network)."""

    def __init__(self):
        self.n = 0


def _collapse(mask, centre, A, loc, E_new):
    """Keep only a magnitude for the components in ``mask`` (sound, loses signs)."""
    if np.any(mask):
        centre = np.where(mask, 0.0, centre)
        A = A.copy()
        A[:, mask] = 0.0
        loc = np.where(mask, E_new, loc)
    return centre, A, loc


def _monotone_error(fn, v, E):
    """max |fn(v') - fn(v)| over |v' - v| <= E for an increasing ``fn``."""
    return np.maximum(fn(v + E) - fn(v), fn(v) - fn(v - E))


def _trajectory_step(x, xf: _Form, h, hf: _Form, c, cf: _Form, par, sym: _Symbols):
    """One layer step along the float trajectory.

    Returns ``(h, c, h_form, c_form, eh, ec, sh)``: float h and c, their error forms
    (with this step's local errors appended as 2H new symbols), the bounds on
    |h^ - h| and |c^ - c| and the standard deviation of the h error were every symbol
    independent and uniform (an estimate, not a bound).
    """
    fmts = par["fmts"]
    hs = h.shape[0]
    n = sym.n
    K, R = par["K"], par["R"]                            # quantized weights as reals
    Kf, Rf, Bf = par["Kf"], par["Rf"], par["Bf"]        # float weights
    pre = fmts.preact
    # ---- pre-activation: z^ - z = (x^-x) K^ + x dK + (h^-h) R^ + h dR + dB + rounding
    z = x @ Kf + h @ Rf + Bf
    Az = xf.rows(n) @ K + hf.rows(n) @ R
    cz = xf.centre @ K + hf.centre @ R + par["zc"]
    loc_z = par["zr"] + par["nz"] * _U * 1.01 * (np.abs(x) @ np.abs(Kf) + np.abs(h) @ np.abs(Rf)
                                                  + np.abs(Bf)) + EVAL_SLACK
    if par["dK"] is not None:
        cz = cz + x @ par["dK"] + h @ par["dR"] + par["dB"]
    else:
        loc_z = loc_z + par["rw"] * (np.abs(x).sum() + np.abs(h).sum() + 1.0)
    Ez = np.abs(cz) + np.abs(Az).sum(axis=0) + loc_z
    # saturation may clamp z^: only its magnitude survives (clamping is 1-Lipschitz)
    sat = (z - Ez < pre.min) | (z + Ez > pre.max)
    cz, Az, loc_z = _collapse(sat, cz, Az, loc_z, Ez + _dist_outside(z, z, pre))
    Ez = np.where(sat, loc_z, Ez)
    # ---- gates: act(z^) - act(z) = act'(z)(z^ - z) + r,  |r| <= max|act''| Ez^2 / 2
    gsl = slice(2 * hs, 3 * hs)
    s = sigmoid(z)
    tg = np.tanh(z[gsl])
    val = s.copy()
    val[gsl] = tg
    d = s * (1.0 - s)
    d[gsl] = 1.0 - tg * tg
    d2 = _max_second_derivative(z, Ez, SIGMOID)
    d2[gsl] = _max_second_derivative(z[gsl], Ez[gsl], TANH)
    tau = table_error_near(z, Ez, SIGMOID, fmts)
    tau[gsl] = table_error_near(z[gsl], Ez[gsl], TANH, fmts)
    slack = EVAL_SLACK * (1.0 + Ez)
    own = 0.5 * d2 * Ez * Ez + tau + slack
    lin = d * Ez + own
    mono = _monotone_error(sigmoid, z, Ez) + tau + slack
    mono[gsl] = _monotone_error(np.tanh, z[gsl], Ez[gsl]) + tau[gsl] + slack[gsl]
    Ag = Az * d
    cg = cz * d
    lg = d * loc_z + own                      # this step's local error radius per gate
    worse = mono < COLLAPSE * lin
    cg, Ag, lg = _collapse(worse, cg, Ag, lg, mono)
    Eg = np.where(worse, mono, lin)
    sl = slice(0, hs), slice(hs, 2 * hs), gsl, slice(3 * hs, 4 * hs)
    i, f, g, o = (val[q] for q in sl)
    Ai, Af, Ag_, Ao = (Ag[:, q] for q in sl)
    ci, cf_, cg_, co = (cg[q] for q in sl)
    li, lf, lg_, lo = (lg[q] for q in sl)
    Ei, Ef, Eg_, Eo = (Eg[q] for q in sl)
    # ---- c^ - c = f (c^p - cp) + cp (f^ - f) + i (g^ - g) + g (i^ - i)
    #               + (f^ - f)(c^p - cp) + (i^ - i)(g^ - g) + rounding
    c_new = f * c + i * g
    Ecp = cf.bound()
    Ac = f * cf.rows(n) + c * Af + i * Ag_ + g * Ai
    cc = f * cf.centre + c * cf_ + i * cg_ + g * ci + par["cc"]
    loc_c = (np.abs(c) * lf + i * lg_ + np.abs(g) * li + Ef * Ecp + Ei * Eg_ + par["cr"]
             + EVAL_SLACK * (1.0 + np.abs(c_new)))
    Ec = np.abs(cc) + np.abs(Ac).sum(axis=0) + loc_c
    # c^ lies in the preact range: a bound beyond that range (or clamping) keeps a magnitude
    cap = np.maximum(c_new - pre.min, pre.max - c_new)
    sat = (c_new - Ec < pre.min) | (c_new + Ec > pre.max)
    cc, Ac, loc_c = _collapse(sat, cc, Ac, loc_c,
                              np.minimum(Ec, cap) + _dist_outside(c_new, c_new, pre))
    Ec = np.where(sat, loc_c, Ec)
    # ---- tanh(c^) - tanh(c) = tanh'(c)(c^ - c) + r
    tc = np.tanh(c_new)
    dt = 1.0 - tc * tc
    slack = EVAL_SLACK * (1.0 + Ec)
    tau_t = table_error_near(c_new, Ec, TANH, fmts)
    own_t = 0.5 * _max_second_derivative(c_new, Ec, TANH) * Ec * Ec + tau_t + slack
    lin_t = dt * Ec + own_t
    mono_t = _monotone_error(np.tanh, c_new, Ec) + tau_t + slack
    worse = mono_t < COLLAPSE * lin_t
    dt = np.where(worse, 0.0, dt)         # collapsed: no linear path from c to tanh(c)
    own_t = np.where(worse, mono_t, own_t)
    Et = np.where(worse, mono_t, lin_t)
    # ---- h^ - h = o (T^ - T) + T (o^ - o) + (o^ - o)(T^ - T) + rounding
    h_new = o * tc
    Ah = (o * dt) * Ac + tc * Ao
    ch = (o * dt) * cc + tc * co + par["hc"]
    kappa = o * dt                        # how this step's c error reaches h
    loc_h = o * own_t + np.abs(tc) * lo + Eo * Et + par["hr"] + EVAL_SLACK
    Eh = np.abs(ch) + np.abs(Ah).sum(axis=0) + kappa * loc_c + loc_h
    # interval image of o^ T^ (o^ in [0, 1], T^ in [-1, 1]) as a fallback and the
    # vec range (clamping)
    o_lo, o_hi = np.maximum(o - Eo, 0.0), np.minimum(o + Eo, 1.0)
    t_lo, t_hi = np.maximum(tc - Et, -1.0), np.minimum(tc + Et, 1.0)
    p_lo, p_hi = _interval_mul(o_lo, o_hi, t_lo, t_hi)
    box = np.maximum(h_new - p_lo, p_hi - h_new) + par["hr"] + abs(par["hc"]) + EVAL_SLACK
    sat = (h_new - Eh < fmts.vec.min) | (h_new + Eh > fmts.vec.max)
    worse = (box < COLLAPSE * Eh) | sat
    ch, Ah, loc_h = _collapse(worse, ch, Ah, loc_h,
                              np.minimum(Eh, box) + _dist_outside(h_new, h_new, fmts.vec))
    kappa = np.where(worse, 0.0, kappa)
    Eh = np.where(worse, loc_h, Eh)
    # ---- this step's local errors become 2H new symbols: one enters c (and h through
    # kappa), one enters h only; all local errors of one pathway of one unit reach the
    # state along the same direction, so merging them loses nothing.
    zeros = np.zeros((hs, hs))
    c_rows = np.concatenate([np.diag(loc_c), zeros], axis=0)
    h_rows = np.concatenate([np.diag(kappa * loc_c), np.diag(loc_h)], axis=0)
    sym.n = n + 2 * hs
    cform = _Form(cc, np.concatenate([Ac, c_rows], axis=0))
    hform = _Form(ch, np.concatenate([Ah, h_rows], axis=0))
    sh = np.sqrt((hform.A ** 2).sum(axis=0) / 3.0)
    return h_new, c_new, hform, cform, Eh, Ec, sh


def _layer_params(w_fixed: FixedLSTMWeights, w_float: Optional[LSTMWeights]) -> dict:
    fmts = w_fixed.fmts
    q, dw = _weight_parts(w_fixed, w_float)
    zc, zr = rounding_error(fmts.preact, fmts.acc_frac)
    cc, cr = rounding_error(fmts.preact, max(fmts.act.frac_bits + fmts.preact.frac_bits,
                                             2 * fmts.act.frac_bits))
    hc, hr = rounding_error(fmts.vec, 2 * fmts.act.frac_bits)
    par = {"fmts": fmts, "K": q["kernel"], "R": q["recurrent"], "B": q["bias"],
           "zc": zc, "zr": zr, "cc": cc, "cr": cr, "hc": hc, "hr": hr,
           "nz": w_fixed.input_size + w_fixed.hidden_size + 2}
    if dw is None:
        par.update(Kf=q["kernel"], Rf=q["recurrent"], Bf=q["bias"], dK=None, dR=None, dB=None,
                   rw=_weight_radius(fmts.weight))
    else:
        par.update(Kf=w_float.kernel, Rf=w_float.recurrent, Bf=w_float.bias,
                   dK=dw["kernel"], dR=dw["recurrent"], dB=dw["bias"], rw=0.0)
    return par


def _input_forms(x, fmt: QFormat):
    """Exact input-quantization errors as centre-only forms (x is known)."""
    xq = fmt.to_float(fmt.quantize(x, "input"))
    return [(_Form(xq[t] - x[t], np.zeros((0, x.shape[1])))) for t in range(x.shape[0])]


def _zero_state(hs: int):
    empty = np.zeros((0, hs))
    return np.zeros(hs), _Form(np.zeros(hs), empty), np.zeros(hs), _Form(np.zeros(hs), empty)


def _run_stack(inputs, stack, sym: _Symbols):
    """Wavefront over a stack: ``inputs`` is a list over t of (x float, x form).

    Returns per layer the (T, H) arrays ``eh``, ``ec``, ``sh`` and the last layer's
    (h, h form) at every step.  Between layers whose ``vec`` formats differ, h is
    requantized (:func:`_requant_form`); ``eh`` is the bound in the layer's own format.
    """
    t_steps = len(inputs)
    sizes = [p["R"].shape[0] for p in stack]
    states = [_zero_state(hs) for hs in sizes]
    eh, ec, sh = ([np.empty((t_steps, hs)) for hs in sizes] for _ in range(3))
    last = []
    for t in range(t_steps):
        x, xf = inputs[t]
        for k, p in enumerate(stack):
            h, hf, c, cf = states[k]
            h, c, hf, cf, eh[k][t], ec[k][t], sh[k][t] = _trajectory_step(x, xf, h, hf, c, cf,
                                                                           p, sym)
            states[k] = (h, hf, c, cf)
            x, xf = h, hf
            if k + 1 < len(stack):
                xf, _ = _requant_form(x, xf, p["fmts"].vec, stack[k + 1]["fmts"].vec, sym)
        last.append((x, xf))
    return eh, ec, sh, last


def _check_window(x, d: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != d:
        raise ShapeError(f"window: expected shape (T, {d}), got {a.shape}")
    if a.shape[0] < 1 or not np.all(np.isfinite(a)):
        raise ShapeError(f"window: needs at least one step of finite values (shape {a.shape})")
    return a


def trajectory_bound(layers: Sequence[FixedLSTMWeights], x,
                     float_layers: Optional[Sequence[LSTMWeights]] = None,
                     names: Optional[Sequence[str]] = None) -> ErrorBound:
    """Per-example bound for a stack of LSTM layers on one input sequence ``x`` (T, D).

    Parameters are as for :func:`static_bound`; ``x`` is the float input, which the
    fixed model quantizes with ``vec.quantize``.
    """
    layers = list(layers)
    if not layers:
        raise ShapeError("layers: need at least one LSTM layer")
    x = _check_window(x, layers[0].input_size)
    _check_stack(layers)
    stack = [_layer_params(w, None if float_layers is None else float_layers[k])
             for k, w in enumerate(layers)]
    sym = _Symbols()
    inputs = list(zip(x, _input_forms(x, layers[0].fmts.vec)))
    eh, ec, sh, _ = _run_stack(inputs, stack, sym)
    out = [LayerErrorBound(names[k] if names else f"LSTM {k + 1}", eh[k], ec[k], sh[k])
           for k in range(len(layers))]
    return ErrorBound("trajectory", out, notes={"symbols": sym.n})


def trajectory_autoencoder_bound(fixed_ae, window) -> ErrorBound:
    """Per-example bound of a :class:`golden.autoencoder.FixedAutoencoder` on one window (T, F)."""
    cfg = fixed_ae.cfg
    fm = fixed_ae.formats
    _check_model_formats(fm, fixed_ae.layer_names)
    x = _check_window(window, cfg.features)
    if x.shape[0] != cfg.timesteps:
        raise ShapeError(f"window: expected {cfg.timesteps} steps, got shape {x.shape}")
    src = fixed_ae.source
    stack = [_layer_params(w, None if src is None else src.layers[k])
             for k, w in enumerate(fixed_ae.layers)]
    ne = len(cfg.encoder_sizes)
    sym = _Symbols()
    eh_e, ec_e, sh_e, last = _run_stack(list(zip(x, _input_forms(x, fm.input))), stack[:ne], sym)
    h_lat, f_lat = last[-1]
    if ne < len(stack):      # the latent vector in the first decoder layer's input format
        f_lat, _ = _requant_form(h_lat, f_lat, fm.layers[ne - 1].vec, fm.layers[ne].vec, sym)
    eh_d, ec_d, sh_d, last = _run_stack([(h_lat, f_lat)] * cfg.timesteps, stack[ne:], sym)
    # dense: y^ - y = (h^ - h) Wd^ + h dWd + dbd + rounding
    fw, fo = fm.dense.weight, fm.output
    Kq, Bq = fw.to_float(fixed_ae.dense_kernel), fw.to_float(fixed_ae.dense_bias)
    yc, yr = rounding_error(fo, fm.dense_acc_frac)
    ey, sy, cy_all = (np.empty((cfg.timesteps, cfg.features)) for _ in range(3))
    for t, (h, hf) in enumerate(last):
        Kf, Bf = (Kq, Bq) if src is None else (src.dense_kernel, src.dense_bias)
        y = h @ Kf + Bf
        cy = hf.centre @ Kq + yc
        loc = yr + (Kq.shape[0] + 2) * _U * 1.01 * (np.abs(h) @ np.abs(Kf) + np.abs(Bf)) + EVAL_SLACK
        if src is not None:
            cy = cy + h @ (Kq - Kf) + (Bq - Bf)
        else:
            loc = loc + _weight_radius(fw) * (np.abs(h).sum() + 1.0)
        Ay = hf.A @ Kq
        e = np.abs(cy) + np.abs(Ay).sum(axis=0) + loc
        sat = (y - e < fo.min) | (y + e > fo.max)
        ey[t] = np.where(sat, e + _dist_outside(y, y, fo), e)
        sy[t] = np.sqrt(((Ay ** 2).sum(axis=0) + loc ** 2) / 3.0)
        cy_all[t] = cy
    layers = [LayerErrorBound(cfg.layer_name(k), eh, ec, sh)
              for k, (eh, ec, sh) in enumerate(zip(eh_e + eh_d, ec_e + ec_d, sh_e + sh_d))]
    return ErrorBound("trajectory", layers, reconstruction=ey, reconstruction_sigma=sy,
                      reconstruction_centre=cy_all, notes={"symbols": sym.n})


def trajectory_autoencoder_bounds(fixed_ae, windows, progress=None) -> List[ErrorBound]:
    """:func:`trajectory_autoencoder_bound` for each of several windows (N, T, F)."""
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3:
        raise ShapeError(f"windows: expected shape (N, T, F), got {w.shape}")
    out = []
    for k in range(w.shape[0]):
        out.append(trajectory_autoencoder_bound(fixed_ae, w[k]))
        if progress is not None:
            progress(k + 1, w.shape[0])
    return out
