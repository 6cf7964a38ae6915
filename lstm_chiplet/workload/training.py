"""Training of the LSTM autoencoder: numpy backpropagation through time and Adam.

The model is :class:`golden.autoencoder.Autoencoder` (encoder LSTM layers, the last
encoder layer's final h repeated T times, decoder LSTM layers, a Dense layer at every
step).  The loss is the mean squared reconstruction error over a batch of windows,
the same quantity as the window score::

    L = mean over (n, t, k) of (y[n, t, k] - x[n, t, k])^2

Backpropagation through time, per LSTM layer (``*`` elementwise, ``dh_t`` the gradient
reaching h_t from the layer above plus from step t + 1)::

    dc_t  = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)
    dz_i  = dc_t * g_t * i_t (1 - i_t)          dz_f = dc_t * c_{t-1} * f_t (1 - f_t)
    dz_g  = dc_t * i_t * (1 - g_t^2)            dz_o = dh_t * tanh(c_t) * o_t (1 - o_t)
    dh_{t-1} += dz_t @ recurrent^T              dx_t = dz_t @ kernel^T
    dkernel = sum_t x_t^T dz_t   drecurrent = sum_t h_{t-1}^T dz_t   dbias = sum_t dz_t

Only the recurrence ``dz_t @ recurrent^T`` runs step by step; the weight gradients
and the gradient to the layer below are one matrix product each over all steps and
the whole batch.  The repeated latent vector gets the sum over the steps of the first
decoder layer's input gradient, and reaches the encoder only through its last step.

Optimizer: Adam with bias correction, a cosine learning-rate decay from
``learning_rate`` to ``final_learning_rate``, global gradient-norm clipping, and an
L-infinity limit: after each update every weight is clipped to the weight format's
range (``fmts.weight``), so the trained model always quantizes without overflow.
Everything random (initialisation, batch order) comes from one seed: the same seed
and data give the same weights.

Quantization-aware terms (``lstm-chiplet train --quant-aware``), both off by default,
keep the float model where a narrow fixed-point datapath follows it closely:

* a **range penalty** ``w * sum(max(|v| - limit, 0)^2) / (B T)`` over every layer's
  sigmoid-gate pre-activations (z_i, z_f, z_o; limit ``gate``) and tanh inputs (z_g and
  c; limit ``tanh``, half of it because the activation unit reads tanh at twice its
  input).  It caps what calibration sees, so every layer's pre-activation format can
  keep more fraction bits (:func:`range_limits_for`);
* **weight decay** ``d / 2 * sum(kernel^2)`` on every kernel (input, recurrent and
  Dense; biases are free): smaller gains, so a rounding in one step grows less
  through the recurrence and the layers above.

The penalty's gradient enters the backward pass where its tensor does: ``dc_t`` gains
the c term, ``dz_t`` the z term (before ``dz_t`` flows to ``h_{t-1}``).

Initialisation follows the usual Keras defaults: glorot-uniform kernels, orthogonal
recurrent kernels, zero biases with a unit forget-gate bias, glorot-uniform Dense
kernel; the Dense bias starts at the mean of the training windows so the first
reconstruction is the average window.

``lstm-chiplet train`` (:func:`run`) loads a NOAA CSV (or, by default, the normal
period of the generated default dataset, :mod:`lstm_chiplet.workload.synthetic`), cuts windows,
fits the min-max scaler on them, trains, and saves the project model
(:mod:`lstm_chiplet.models.project`).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from golden.autoencoder import Autoencoder, AutoencoderConfig, window_scores
from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat, short_format
from golden.lstm_float import ShapeError

#: The repository root (for the default output folder under build/).
_REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of :func:`train`.

    Parameters
    ----------
    epochs : int
        Passes over the training windows.
    batch_size : int
        Windows per Adam update (the last batch of an epoch may be smaller).
    learning_rate, final_learning_rate : float
        Adam step size at the first and the last epoch (cosine decay between).
    beta1, beta2, epsilon : float
        Adam moment decays and denominator guard.
    clip_norm : float or None
        Largest global gradient norm (all tensors together); ``None`` disables it.
    validation_fraction : float
        Share of the windows (the latest in time) held out to measure the loss on
        windows not trained on; 0 disables it.  The ``T - 1`` windows just before the
        held-out ones are dropped, so no training window overlaps a held-out one.
    seed : int
        Seed of every random choice (initialisation, batch order).
    restore_best : bool
        With validation: return the weights of the epoch with the lowest validation
        loss (early stopping without cutting the run short), not the last ones.
    range_limits : (float, float) or None
        ``(gate, tanh)``: soft limits of the range penalty (see the module docstring);
        ``None`` disables it.
    range_weight : float
        Weight ``w`` of the range penalty.
    weight_decay : float
        ``d`` of the L2 term on every kernel (0 disables it).
    """

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    final_learning_rate: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    clip_norm: Optional[float] = 1.0
    validation_fraction: float = 0.1
    seed: int = 0
    restore_best: bool = True
    range_limits: Optional[Tuple[float, float]] = None
    range_weight: float = 1.0
    weight_decay: float = 0.0

    def __post_init__(self):
        checks = [
            ("epochs", isinstance(self.epochs, (int, np.integer)) and self.epochs >= 1, "a positive integer"),
            ("batch_size", isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1,
             "a positive integer"),
            ("learning_rate", self.learning_rate > 0, "positive"),
            ("final_learning_rate", self.final_learning_rate > 0, "positive"),
            ("beta1", 0 <= self.beta1 < 1, "in [0, 1)"),
            ("beta2", 0 <= self.beta2 < 1, "in [0, 1)"),
            ("epsilon", self.epsilon > 0, "positive"),
            ("clip_norm", self.clip_norm is None or self.clip_norm > 0, "positive or None"),
            ("validation_fraction", 0 <= self.validation_fraction < 1, "in [0, 1)"),
            ("range_limits", self.range_limits is None
             or (len(self.range_limits) == 2 and all(math.isfinite(v) and v > 0 for v in self.range_limits)),
             "None or two positive limits (gate, tanh)"),
            ("range_weight", math.isfinite(self.range_weight) and self.range_weight >= 0, "non-negative"),
            ("weight_decay", math.isfinite(self.weight_decay) and self.weight_decay >= 0, "non-negative"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"training config: {name} must be {what}, got {getattr(self, name)!r}")

    def learning_rate_at(self, epoch: int) -> float:
        """Step size of ``epoch`` (0-based): cosine decay from the first to the last epoch."""
        if self.epochs == 1:
            return float(self.learning_rate)
        frac = epoch / (self.epochs - 1)
        return float(self.final_learning_rate + (self.learning_rate - self.final_learning_rate)
                     * 0.5 * (1.0 + math.cos(math.pi * frac)))

    @property
    def range_penalised(self) -> bool:
        """Whether the range penalty is on."""
        return self.range_limits is not None and self.range_weight > 0

    @property
    def penalised(self) -> bool:
        """Whether a quantization-aware term is on (the loss is then more than the MSE)."""
        return self.range_penalised or self.weight_decay > 0

    def to_dict(self) -> dict:
        d = {k: (int(v) if isinstance(v, np.integer) else v) for k, v in asdict(self).items()}
        if d["range_limits"] is not None:
            d["range_limits"] = [float(v) for v in d["range_limits"]]
        return d


def range_limits_for(preact, headroom: Optional[float] = None, margin: float = 0.93
                     ) -> Tuple[float, float]:
    """The ``(gate, tanh)`` limits that let calibration give every layer ``preact``.

    Calibration (:mod:`golden.calibration`) needs a slot's peak times ``1 + headroom``
    inside the format, and counts the tanh inputs twice; ``margin`` keeps the soft
    penalty's overshoot inside too.  For Q3.13 (range 4) and the default head-room of
    1/8: 3.31 and 1.65.
    """
    from golden.calibration import DEFAULT_HEADROOM
    h = DEFAULT_HEADROOM if headroom is None else headroom
    gate = float(preact.max) / (1.0 + h) * margin
    return gate, gate / 2.0


@dataclass
class TrainingHistory:
    """Per-epoch figures of a run (lists of equal length, one entry per epoch).

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's batches (weights changing during it).
    val_loss : list of float or None
        Loss on the held-out windows after the epoch (``None`` without validation).
    learning_rate : list of float
    grad_norm : list of float
        Mean global gradient norm before clipping.
    seconds : list of float
        Wall time of each epoch.
    penalty : list of float
        Mean quantization-aware terms (range penalty plus weight decay) over the
        epoch's batches; 0 for a plain run.  ``loss`` is the MSE alone.
    val_objective : list of float or None
        Validation MSE plus the same terms: what ``restore_best`` minimises.
    clipped_weights : int
        Weights sitting at the weight-format limit in the returned model.
    best_epoch : int or None
        1-based epoch whose weights were returned when ``restore_best`` chose them.
    """

    loss: List[float] = field(default_factory=list)
    val_loss: List[Optional[float]] = field(default_factory=list)
    learning_rate: List[float] = field(default_factory=list)
    grad_norm: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    penalty: List[float] = field(default_factory=list)
    val_objective: List[Optional[float]] = field(default_factory=list)
    clipped_weights: int = 0
    best_epoch: Optional[int] = None

    def summary(self) -> dict:
        """First, best and last losses and where the curve crossed 10 % steps of the run."""
        n = len(self.loss)
        if n == 0:
            return {"epochs": 0}
        marks = sorted({0, n - 1} | {max(0, round(n * q / 10) - 1) for q in range(1, 10)})
        out = {
            "epochs": n,
            "loss_first": self.loss[0],
            "loss_last": self.loss[-1],
            "loss_best": min(self.loss),
            "curve": [{"epoch": k + 1, "loss": self.loss[k], "val_loss": self.val_loss[k]}
                      for k in marks],
            "seconds": float(sum(self.seconds)),
            "clipped_weights": int(self.clipped_weights),
            "returned_epoch": int(self.best_epoch or n),
        }
        if any(self.penalty):
            out.update(penalty_first=self.penalty[0], penalty_last=self.penalty[-1])
        vals = [v for v in self.val_loss if v is not None]
        if vals:
            best = int(np.argmin([v if v is not None else np.inf for v in self.val_loss]))
            out.update(val_loss_first=vals[0], val_loss_last=vals[-1], val_loss_best=min(vals),
                       val_best_epoch=best + 1)
        return out


@dataclass
class TrainingResult:
    """What :func:`train` returns."""

    model: Autoencoder
    history: TrainingHistory
    config: TrainingConfig
    train_windows: int
    val_windows: int


# --------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------

def _glorot(rng, fan_in: int, fan_out: int, shape) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal(rng, rows: int, cols: int) -> np.ndarray:
    """(rows, cols) with orthonormal rows (rows <= cols) or columns."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows <= cols else q


def init_autoencoder(cfg: AutoencoderConfig = AutoencoderConfig(), seed: int = 0,
                     output_bias=None) -> Autoencoder:
    """A fresh autoencoder with the usual Keras initialisation (see module docstring).

    Parameters
    ----------
    cfg : AutoencoderConfig
    seed : int
    output_bias : array (F,), optional
        Initial Dense bias (default zeros; :func:`train` passes the training mean).
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for d, h in cfg.layer_shapes:
        kernel = _glorot(rng, d, 4 * h, (d, 4 * h))
        recurrent = _orthogonal(rng, h, 4 * h)
        bias = np.zeros(4 * h)
        bias[h:2 * h] = 1.0
        arrays += [kernel, recurrent, bias]
    hl = cfg.hidden_sizes[-1]
    arrays.append(_glorot(rng, hl, cfg.features, (hl, cfg.features)))
    bias = np.zeros(cfg.features) if output_bias is None else np.asarray(output_bias, np.float64)
    if bias.shape != (cfg.features,):
        raise ShapeError(f"output_bias: expected shape ({cfg.features},), got {bias.shape}")
    arrays.append(bias.copy())
    return Autoencoder.from_weights(arrays, cfg)


# --------------------------------------------------------------------------
# Forward and backward passes (parameters as a Keras-ordered list of arrays)
# --------------------------------------------------------------------------

def _gate_constants(h: int, dtype):
    """tanh(scale * z) * scale + offset gives sigmoid for i, f, o and tanh for g."""
    scale = np.full(4 * h, 0.5, dtype=dtype)
    scale[2 * h:3 * h] = 1.0
    offset = np.full(4 * h, 0.5, dtype=dtype)
    offset[2 * h:3 * h] = 0.0
    return scale, offset


def _layer_forward(zx: np.ndarray, recurrent: np.ndarray):
    """Run one LSTM layer given its input projections ``zx`` (B, T, 4H) (bias included).

    Returns the h sequence (B, T, H) and the cache for :func:`_layer_backward`
    (the pre-activations z included, for the range penalty).
    """
    b, t_steps, h4 = zx.shape
    h = h4 // 4
    scale, offset = _gate_constants(h, zx.dtype)
    hs = np.empty((b, t_steps, h), dtype=zx.dtype)
    cs = np.empty_like(hs)
    tcs = np.empty_like(hs)
    acts = np.empty_like(zx)
    zs = np.empty_like(zx)
    h_prev = np.zeros((b, h), dtype=zx.dtype)
    c_prev = np.zeros((b, h), dtype=zx.dtype)
    for t in range(t_steps):
        z = zx[:, t] + h_prev @ recurrent
        a = np.tanh(z * scale) * scale + offset
        i, f, g, o = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
        c_prev = f * c_prev + i * g
        tc = np.tanh(c_prev)
        h_prev = o * tc
        acts[:, t] = a
        zs[:, t] = z
        cs[:, t] = c_prev
        tcs[:, t] = tc
        hs[:, t] = h_prev
    return hs, (hs, cs, tcs, acts, zs)


def _hinge(v: np.ndarray, limit, scale: float):
    """``scale * sum(max(|v| - limit, 0)^2)`` and its gradient."""
    over = np.maximum(np.abs(v) - limit, 0.0)
    return scale * float(np.vdot(over, over)), (2.0 * scale) * np.sign(v) * over


def _range_penalty(cache, limits, scale: float):
    """The range penalty of one layer and its gradients on c (B, T, H) and z (B, T, 4H)."""
    _, cs, _, _, zs = cache
    gate, tanh_in = limits
    h = cs.shape[-1]
    zlim = np.full(4 * h, gate)
    zlim[2 * h:3 * h] = tanh_in
    pc, gc = _hinge(cs, tanh_in, scale)
    pz, gz = _hinge(zs, zlim, scale)
    return pc + pz, gc, gz


def _layer_backward(cache, dhs: np.ndarray, recurrent: np.ndarray, dcs=None, dzs=None) -> np.ndarray:
    """Gradients of the gate pre-activations dz (B, T, 4H) from dL/dh (B, T, H).

    ``dcs`` (B, T, H) and ``dzs`` (B, T, 4H): gradients of terms on c and z themselves
    (the range penalty), added where those tensors enter the recurrence.
    """
    hs, cs, tcs, acts, _ = cache
    b, t_steps, h = hs.shape
    dz_all = np.empty_like(acts)
    dh_next = np.zeros((b, h), dtype=hs.dtype)
    dc_next = np.zeros((b, h), dtype=hs.dtype)
    rec_t = np.ascontiguousarray(recurrent.T)
    zero = np.zeros((b, h), dtype=hs.dtype)
    for t in range(t_steps - 1, -1, -1):
        a = acts[:, t]
        i, f, g, o = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
        tc = tcs[:, t]
        c_prev = cs[:, t - 1] if t > 0 else zero
        dh = dhs[:, t] + dh_next
        dc = dc_next + dh * o * (1.0 - tc * tc)
        if dcs is not None:
            dc = dc + dcs[:, t]
        dz = dz_all[:, t]
        dz[:, :h] = dc * g * i * (1.0 - i)
        dz[:, h:2 * h] = dc * c_prev * f * (1.0 - f)
        dz[:, 2 * h:3 * h] = dc * i * (1.0 - g * g)
        dz[:, 3 * h:] = dh * tc * o * (1.0 - o)
        if dzs is not None:
            dz += dzs[:, t]
        dc_next = dc * f
        dh_next = dz @ rec_t
    return dz_all


def _check_params(params: Sequence[np.ndarray], cfg: AutoencoderConfig):
    shapes = cfg.weight_shapes()
    if len(params) != len(shapes):
        raise ShapeError(f"parameters: expected {len(shapes)} arrays for {cfg.describe()}, "
                         f"got {len(params)}")
    for k, (p, s, name) in enumerate(zip(params, shapes, cfg.weight_names())):
        if p.shape != s:
            raise ShapeError(f"parameters: arr_{k} ({name}) has shape {p.shape}, expected {s}")


def loss_and_gradients(params: Sequence[np.ndarray], cfg: AutoencoderConfig, windows,
                       with_gradients: bool = True, config: Optional["TrainingConfig"] = None,
                       parts: Optional[dict] = None):
    """Loss (mean squared reconstruction error, plus the quantization-aware terms of
    ``config`` when it has any) and its gradient for every parameter.

    Parameters
    ----------
    params : list of ndarray
        Keras ``get_weights()`` order (:meth:`AutoencoderConfig.weight_shapes`).
    cfg : AutoencoderConfig
    windows : ndarray (B, T, F)
        Scaled windows; they are both the input and the target.
    with_gradients : bool
        False: only the loss (and reconstruction) is computed.
    config : TrainingConfig, optional
        Its ``range_limits``, ``range_weight`` and ``weight_decay`` add their terms.
    parts : dict, optional
        Filled with the loss's terms: ``reconstruction``, ``range``, ``decay``.

    Returns
    -------
    loss : float
    grads : list of ndarray or None
        Same order and shapes as ``params``.
    reconstruction : ndarray (B, T, F)
    """
    x = np.asarray(windows)
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.features):
        raise ShapeError(f"training windows: expected shape (N, {cfg.timesteps}, {cfg.features}), "
                         f"got {x.shape}")
    _check_params(params, cfg)
    dtype = params[0].dtype
    x = x.astype(dtype, copy=False)
    b, t_steps, nf = x.shape
    ne = len(cfg.encoder_sizes)
    nl = cfg.num_layers
    caches, inputs = [], []
    seq = x
    latent = None
    for k in range(nl):
        kernel, recurrent, bias = params[3 * k:3 * k + 3]
        if k == ne:
            # the repeated latent vector: one projection serves every step
            zx = np.broadcast_to((latent @ kernel + bias)[:, None, :], (b, t_steps, kernel.shape[1]))
            inputs.append(latent)
        else:
            zx = seq @ kernel + bias
            inputs.append(seq)
        seq, cache = _layer_forward(zx, recurrent)
        caches.append(cache)
        if k == ne - 1:
            latent = seq[:, -1, :]
    dense_kernel, dense_bias = params[-2], params[-1]
    y = seq @ dense_kernel + dense_bias
    r = y - x
    loss = float(np.mean(r * r))
    limits = config.range_limits if config is not None and config.range_penalised else None
    decay = 0.0 if config is None else float(config.weight_decay)
    scale = 0.0 if limits is None else config.range_weight / (b * t_steps)
    penalties = [_range_penalty(c, limits, scale) for c in caches] if limits is not None else None
    kernels = [3 * k for k in range(nl)] + [3 * k + 1 for k in range(nl)] + [len(params) - 2]
    range_term = sum(p[0] for p in penalties) if penalties else 0.0
    decay_term = 0.5 * decay * sum(float(np.vdot(params[j], params[j])) for j in kernels) if decay else 0.0
    if parts is not None:
        parts.update(reconstruction=loss, range=range_term, decay=decay_term)
    loss += range_term + decay_term
    if not with_gradients:
        return loss, None, y

    grads: List[Optional[np.ndarray]] = [None] * len(params)
    dy = (2.0 / r.size) * r                                   # (B, T, F)
    hl = seq.shape[-1]
    grads[-2] = seq.reshape(-1, hl).T @ dy.reshape(-1, nf)
    grads[-1] = dy.sum(axis=(0, 1))
    dhs = dy @ dense_kernel.T
    for k in range(nl - 1, -1, -1):
        kernel, recurrent, _ = params[3 * k:3 * k + 3]
        extra = (penalties[k][1], penalties[k][2]) if penalties else (None, None)
        dz = _layer_backward(caches[k], dhs, recurrent, *extra)
        h4 = dz.shape[-1]
        hs = caches[k][0]
        h = hs.shape[-1]
        h_prev = np.concatenate([np.zeros((b, 1, h), dtype=dtype), hs[:, :-1]], axis=1)
        grads[3 * k + 1] = h_prev.reshape(-1, h).T @ dz.reshape(-1, h4)
        grads[3 * k + 2] = dz.sum(axis=(0, 1))
        if k == ne:
            dz_sum = dz.sum(axis=1)                           # (B, 4H): every step saw the latent
            grads[3 * k] = inputs[k].T @ dz_sum
            dlatent = dz_sum @ kernel.T
            dhs = np.zeros((b, t_steps, dlatent.shape[-1]), dtype=dtype)
            dhs[:, -1] = dlatent
        else:
            xin = inputs[k]
            grads[3 * k] = xin.reshape(-1, xin.shape[-1]).T @ dz.reshape(-1, h4)
            if k > 0:
                dhs = dz @ kernel.T
    if decay:
        for j in kernels:
            grads[j] = grads[j] + decay * params[j]
    return loss, grads, y


# --------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------

def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """A one-line progress bar on stderr: epoch, bar, loss, elapsed time and ETA.

    On a terminal the line is redrawn in place after every batch; otherwise one line
    is written per epoch (at most one every ``interval`` seconds, and always the last).

    Parameters
    ----------
    epochs, batches : int
        Epochs of the run and batches per epoch.
    stream : file or None
        Where the bar goes (``sys.stderr`` for the command line); ``None`` silences it.
    """

    def __init__(self, epochs: int, batches: int, stream=None, width: int = 24,
                 interval: float = 5.0):
        self.epochs, self.batches, self.stream, self.width = epochs, batches, stream, width
        self.interval = interval
        self.start = time.monotonic()
        self.last_line = -1e9
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())

    def _line(self, epoch: int, done_batches: int, loss: float, val: Optional[float]) -> str:
        """The bar for ``epoch`` (0-based) after ``done_batches`` batches of the whole run."""
        total = self.epochs * self.batches
        frac = done_batches / total if total else 1.0
        fill = int(round(self.width * frac))
        elapsed = time.monotonic() - self.start
        eta = _clock(elapsed / done_batches * (total - done_batches)) if done_batches else "--:--"
        val_txt = f" val {val:.5f}" if val is not None else ""
        return (f"epoch {epoch + 1}/{self.epochs} [{'#' * fill}{'.' * (self.width - fill)}]"
                f" loss {loss:.5f}{val_txt} {_clock(elapsed)} ETA {eta}")

    def batch(self, epoch: int, batch: int, loss: float) -> None:
        """After batch ``batch`` (0-based) of ``epoch``: redraw on a terminal."""
        if self.stream is not None and self.tty:
            line = self._line(epoch, epoch * self.batches + batch + 1, loss, None)
            self.stream.write("\r" + line + "\x1b[K")
            self.stream.flush()

    def epoch(self, epoch: int, loss: float, val: Optional[float]) -> None:
        """At the end of ``epoch`` (0-based), with its mean loss and validation loss."""
        if self.stream is None:
            return
        line = self._line(epoch, (epoch + 1) * self.batches, loss, val)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        elif now - self.last_line >= self.interval or epoch + 1 == self.epochs:
            self.stream.write(line + "\n")
            self.last_line = now
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------

def split_validation(n: int, fraction: float, steps: int):
    """Indices (train, validation) of ``n`` time-ordered windows of ``steps`` steps.

    The last ``round(n * fraction)`` windows are held out and the ``steps - 1``
    windows before them are dropped (with stride 1 they would share steps with the
    first held-out window).
    """
    n_val = int(round(n * fraction))
    if fraction <= 0 or n_val == 0:
        return np.arange(n), np.arange(0)
    n_train = n - n_val - (steps - 1)
    if n_train < 1:
        raise ShapeError(f"training windows: {n} windows are too few to hold out {fraction:g} of "
                         f"them for validation (and {steps - 1} more so none overlap); "
                         "use more data or validation_fraction=0")
    return np.arange(n_train), np.arange(n - n_val, n)


def train(windows, cfg: AutoencoderConfig = AutoencoderConfig(),
          config: TrainingConfig = TrainingConfig(), fmts: LSTMFormats = DEFAULT_FORMATS,
          initial: Optional[Autoencoder] = None, progress="stderr",
          dtype=np.float64) -> TrainingResult:
    """Train the autoencoder on scaled windows (N, T, F), ordered in time.

    The validation windows are the latest ones (see :func:`split_validation`; with
    several stations in one array the overlap rule is per array, not per station).

    Parameters
    ----------
    windows : array (N, T, F)
        Scaled training windows (input and target).
    cfg : AutoencoderConfig
        Sizes (ignored when ``initial`` is given: its config is used).
    config : TrainingConfig
    fmts : LSTMFormats
        Weights are kept within ``fmts.weight`` (L-infinity limit after every update).
    initial : Autoencoder, optional
        Start from these weights instead of a fresh initialisation (values beyond the
        weight format are clipped to it first).
    progress : file, "stderr" or None
        Where the progress bar goes (default: ``sys.stderr`` at call time; ``None``: silent).
    dtype : numpy float type
        Arithmetic of the run (float64 by default).

    Returns
    -------
    TrainingResult
    """
    if initial is not None:
        cfg = initial.cfg
    x = np.asarray(windows, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.features):
        raise ShapeError(f"training windows: expected shape (N, {cfg.timesteps}, {cfg.features}) "
                         f"for {cfg.describe()}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ShapeError(f"training windows: {int(x.size - np.count_nonzero(np.isfinite(x)))} "
                         "value(s) are NaN or infinite")
    tr_idx, val_idx = split_validation(len(x), config.validation_fraction, cfg.timesteps)
    x_train = x[tr_idx].astype(dtype)
    x_val = x[val_idx].astype(dtype)
    rng = np.random.default_rng(config.seed)
    if initial is None:
        initial = init_autoencoder(cfg, int(rng.integers(2 ** 31)),
                                   output_bias=x_train.reshape(-1, cfg.features).mean(axis=0))
    params = [np.array(a, dtype=dtype) for a in initial.get_weights()]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    limit = float(fmts.weight.max)
    for p in params:
        np.clip(p, -limit, limit, out=p)

    n = len(x_train)
    bs = int(config.batch_size)
    batches = (n + bs - 1) // bs
    hist = TrainingHistory()
    bar = ProgressBar(config.epochs, batches, sys.stderr if progress == "stderr" else progress)
    step = 0
    best_val, best_params = math.inf, None
    b1, b2, eps = config.beta1, config.beta2, config.epsilon
    for epoch in range(config.epochs):
        t0 = time.monotonic()
        lr = config.learning_rate_at(epoch)
        order = rng.permutation(n)
        total, norms, penalty = 0.0, 0.0, 0.0
        for j in range(batches):
            batch = x_train[order[j * bs:(j + 1) * bs]]
            parts = {}
            loss, grads, _ = loss_and_gradients(params, cfg, batch, config=config, parts=parts)
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            if not math.isfinite(loss) or not math.isfinite(norm):
                raise FloatingPointError(f"training diverged at epoch {epoch + 1}, batch {j + 1} "
                                         f"(loss {loss}); lower the learning rate")
            if config.clip_norm is not None and norm > config.clip_norm:
                scale = config.clip_norm / norm
                grads = [g * scale for g in grads]
            step += 1
            corr1 = 1.0 - b1 ** step
            corr2 = 1.0 - b2 ** step
            for p, g, mk, vk in zip(params, grads, m, v):
                mk *= b1
                mk += (1.0 - b1) * g
                vk *= b2
                vk += (1.0 - b2) * (g * g)
                p -= lr * (mk / corr1) / (np.sqrt(vk / corr2) + eps)
                np.clip(p, -limit, limit, out=p)
            total += parts["reconstruction"] * len(batch)
            penalty += (loss - parts["reconstruction"]) * len(batch)
            norms += norm
            bar.batch(epoch, j, loss)
        val = val_objective = None
        if len(x_val):
            val, val_objective = evaluate_loss(params, cfg, x_val, config=config, terms=True)
            # a penalised run keeps the epoch best on the whole objective, not on the MSE
            # alone (that would return the early epochs, before the ranges are held)
            if config.restore_best and val_objective < best_val:
                best_val, best_params = val_objective, [p.copy() for p in params]
                hist.best_epoch = epoch + 1
        hist.loss.append(total / n)
        hist.penalty.append(penalty / n)
        hist.val_objective.append(val_objective)
        hist.val_loss.append(val)
        hist.learning_rate.append(lr)
        hist.grad_norm.append(norms / batches)
        hist.seconds.append(time.monotonic() - t0)
        bar.epoch(epoch, total / n, val)
    bar.close()
    if best_params is not None:
        params = best_params
    hist.clipped_weights = int(sum(np.count_nonzero(np.abs(p) >= limit) for p in params))
    model = Autoencoder.from_weights([p.astype(np.float64) for p in params], cfg)
    return TrainingResult(model, hist, config, len(x_train), len(x_val))


def evaluate_loss(params, cfg: AutoencoderConfig, windows, batch: int = 256,
                  config: Optional[TrainingConfig] = None, terms: bool = False):
    """Mean squared reconstruction error over all ``windows`` (no gradients).

    ``terms``: return ``(mse, objective)``, the objective adding ``config``'s
    quantization-aware terms (the range penalty per window-step, as in training)."""
    x = np.asarray(windows)
    total = objective = 0.0
    for a in range(0, len(x), batch):
        part = x[a:a + batch]
        parts = {}
        loss, _, _ = loss_and_gradients(params, cfg, part, with_gradients=False, config=config,
                                        parts=parts)
        total += parts["reconstruction"] * len(part)
        objective += loss * len(part)
    n = max(1, len(x))
    return (total / n, objective / n) if terms else total / n


def model_scores(model: Autoencoder, windows, batch: int = 256) -> np.ndarray:
    """Window scores of the float model, computed batch by batch."""
    x = np.asarray(windows, dtype=np.float64)
    return np.concatenate([window_scores(x[a:a + batch], model.reconstruct_float(x[a:a + batch]))
                           for a in range(0, len(x), batch)]) if len(x) else np.zeros(0)


# --------------------------------------------------------------------------
# Command line: lstm-chiplet train
# --------------------------------------------------------------------------

DEFAULT_OUT = _REPO / "build" / "train" / "model.npz"
DEFAULT_DATA_DIR = _REPO / "build" / "default_data"
#: Earlier generated winters added to the default training data (see docs/training.md).
DEFAULT_EXTRA_SEASONS = 3
#: ``--quant-aware``: the pre-activation format the range penalty aims every layer at:
#: the default preact word with three integer bits (range 4: the sigmoid gates saturate
#: within it; at 16 bits it keeps 13 fraction bits where the shipped model's last
#: decoder layer gets 11) ...
QUANT_AWARE_PREACT = QFormat(DEFAULT_FORMATS.preact.word_bits, DEFAULT_FORMATS.preact.word_bits - 3,
                             True, name="preact")
#: ... and its weight decay (measured on the shipped model: docs/training.md).
QUANT_AWARE_DECAY = 3e-6


def _sizes(text: str, what: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--{what}: expected comma-separated layer sizes like 64,32, got {text!r}") from None
    if not sizes:
        raise ValueError(f"--{what}: no layer size given")
    return sizes


def add_arguments(parser) -> None:
    """Arguments of ``lstm-chiplet train``."""
    d = TrainingConfig()
    parser.add_argument("--csv", help="NOAA CSV to train on (every window of it); default: the "
                        "anomaly-free period of the generated default dataset")
    parser.add_argument("--format", choices=("lcd", "marine"), help="CSV format (default: detected)")
    parser.add_argument("--features", help="comma-separated feature columns (default: the format's six)")
    parser.add_argument("--stride", type=int, default=1, help="window stride (default 1)")
    parser.add_argument("--extra-seasons", type=int, default=DEFAULT_EXTRA_SEASONS,
                        help="without --csv: also train on this many generated anomaly-free earlier "
                        f"winters of the same station (default {DEFAULT_EXTRA_SEASONS})")
    parser.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate,
                        help=f"first-epoch Adam step (default {d.learning_rate:g}; decays to a tenth)")
    parser.add_argument("--validation-fraction", type=float, default=d.validation_fraction,
                        help=f"latest windows held out (default {d.validation_fraction:g}; 0: none)")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    parser.add_argument("--encoder", default=None, help="encoder LSTM sizes (default 64,32)")
    parser.add_argument("--decoder", default=None, help="decoder LSTM sizes (default 32,64)")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="fine-tune: start from this project model's weights, sizes and "
                        "scaler (instead of a fresh initialisation and a scaler fitted here)")
    parser.add_argument("--quant-aware", action="store_true",
                        help="train for a narrow fixed-point datapath: a range penalty holds every "
                        f"layer's pre-activations and cell state inside {short_format(QUANT_AWARE_PREACT, 'preact')} "
                        f"(after calibration head-room), plus weight decay {QUANT_AWARE_DECAY:g} "
                        "(docs/training.md)")
    parser.add_argument("--range-weight", type=float, default=None,
                        help="weight of the range penalty (default 1 with --quant-aware)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help=f"L2 weight decay on every kernel (default 0; {QUANT_AWARE_DECAY:g} "
                        "with --quant-aware)")
    parser.add_argument("--storage", choices=("float32", "float64"), default="float32",
                        help="precision of the stored weights (default float32)")
    parser.add_argument("--out", default=None,
                        help="model file to write (default build/train/model.npz)")
    parser.add_argument("--data-dir", default=None,
                        help="where the default dataset is generated (default build/default_data)")
    parser.add_argument("--force", action="store_true",
                        help="save the model even when the run diverged (non-finite or exploding "
                        "loss, weights pinned at the format limit); the reasons go into its "
                        "provenance")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


#: A run counts as diverged (the model is not saved without ``--force``) when:
#: a loss is not finite; more than this fraction of the weights sit at the weight
#: format's limit (the clip, not the data, set them) ...
PINNED_FRACTION = 0.01
#: ... the returned weights' validation loss exceeds their training loss this many
#: times (an over-fitted or exploded model, not a tolerance on a figure) ...
VALIDATION_RATIO = 100.0
#: ... or the last epoch's training loss exceeds the first epoch's this many times.
GROWTH_RATIO = 10.0
#: Parameters per training window above which a run without validation warns.
PARAMETERS_PER_WINDOW = 1000


def check_output_file(out: Path) -> None:
    """Refuse an --out that cannot take the model, before any work is done."""
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the model file's name "
                         f"(for example {out / 'model.npz'})")
    parent = out.absolute().parent
    blocker = next((p for p in [parent, *parent.parents] if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ValueError(f"--out {out} cannot be written: {blocker} is a file")
    if blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} cannot be written: no permission to write in {blocker}")


def divergence_reasons(hist: TrainingHistory, parameters: int) -> List[str]:
    """Why a finished run's model should not be trusted (empty: it looks sound)."""
    reasons = []
    losses = [v for v in hist.loss + hist.val_loss if v is not None]
    if any(not math.isfinite(v) for v in losses):
        reasons.append("a loss is not finite")
    if parameters and hist.clipped_weights > PINNED_FRACTION * parameters:
        reasons.append(f"{hist.clipped_weights} of {parameters} weights are pinned at the weight "
                       f"format's limit (more than {PINNED_FRACTION:.0%})")
    k = (hist.best_epoch or len(hist.loss)) - 1
    if hist.loss and hist.val_loss and hist.val_loss[k] is not None \
            and hist.val_loss[k] > VALIDATION_RATIO * hist.loss[k]:
        reasons.append(f"the validation loss {hist.val_loss[k]:.4g} is more than "
                       f"{VALIDATION_RATIO:g} times the training loss {hist.loss[k]:.4g}")
    if len(hist.loss) > 1 and hist.loss[-1] > GROWTH_RATIO * hist.loss[0]:
        reasons.append(f"the training loss grew from {hist.loss[0]:.4g} to {hist.loss[-1]:.4g}")
    return reasons


def _training_windows(args):
    """(raw training windows, all windows of the file, features, data format, description,
    synthetic); the windows' ``units`` are the units of every training window."""
    from . import synthetic
    from .noaa import load_windows

    features = [f.strip() for f in args.features.split(",")] if args.features else None
    if args.csv:
        win = load_windows(args.csv, args.format, features, stride=args.stride)
        desc = {"source": "csv", "file": Path(args.csv).name, "format": win.summary["format"],
                "windows": len(win), "stride": args.stride,
                "period": [str(win.start[0]), str(win.end[-1])]}
        return win.sequences, win, win.features, win.summary["format"], desc, None
    if args.extra_seasons < 0:
        raise ValueError(f"--extra-seasons must be >= 0, got {args.extra_seasons}")
    folder = Path(args.data_dir) if args.data_dir else DEFAULT_DATA_DIR
    synth = synthetic.write_default_dataset(folder)
    win = load_windows(synth.csv_path, "lcd", features, stride=args.stride)
    normal = synthetic.normal_windows(win.times, synth.normal_end)
    if not np.any(normal):
        raise ValueError(f"{synth.csv_path}: no window lies in the anomaly-free period")
    parts, files = [], []
    for k in range(args.extra_seasons, 0, -1):          # earliest first: windows in time order
        earlier = synthetic.write_earlier_season(folder, k)
        parts.append(load_windows(earlier.csv_path, "lcd", features, stride=args.stride).sequences)
        files.append({"file": earlier.csv_path.name, "seed": earlier.seed,
                      "period": [earlier.start, earlier.normal_end], "windows": len(parts[-1])})
    parts.append(win.sequences[normal])
    files.append({"file": synth.csv_path.name, "seed": synth.seed,
                  "period": [synth.start, synth.normal_end], "windows": int(normal.sum()),
                  "note": "the default dataset's anomaly-free period"})
    raw = np.concatenate(parts)
    desc = {"source": "generated default dataset"
                      + (f" + {args.extra_seasons} earlier anomaly-free season(s)" if args.extra_seasons else ""),
            "generator": "lstm_chiplet.workload.synthetic",
            "generator_version": synthetic.GENERATOR_VERSION,
            "file": synth.csv_path.name, "format": "lcd", "files": files,
            "windows": int(len(raw)), "stride": args.stride}
    return raw, win, win.features, "lcd", desc, synth


def run(args) -> int:
    """``lstm-chiplet train``: fit the scaler, train, save the project model, report."""
    from .noaa import MinMaxScaler
    from lstm_chiplet.models.project import load_model, save_model
    from . import synthetic

    out = Path(args.out) if args.out else DEFAULT_OUT
    check_output_file(out)
    initial = None
    if args.init is not None:
        if args.encoder is not None or args.decoder is not None:
            raise ValueError("--init: the sizes come from the model file; leave out --encoder "
                             "and --decoder")
        if not Path(args.init).is_file():
            raise ValueError(f"--init {args.init}: no such model file")
        initial = load_model(args.init)
        cfg_sizes = (initial.model.cfg.encoder_sizes, initial.model.cfg.decoder_sizes)
    else:
        cfg_sizes = (_sizes(args.encoder or "64,32", "encoder"), _sizes(args.decoder or "32,64", "decoder"))
    raw, win, features, data_format, data_desc, synth = _training_windows(args)
    cfg = AutoencoderConfig(len(features), cfg_sizes[0], cfg_sizes[1], raw.shape[1])
    if initial is not None and initial.model.cfg != cfg:
        raise ValueError(f"--init {args.init}: the model is {initial.model.cfg.describe()}, the "
                         f"training windows need {cfg.describe()}")
    if initial is not None and initial.scaler is not None:
        # the model's weights only make sense in its own scaling
        scaler = initial.scaler
        if tuple(scaler.features) != tuple(features):
            raise ValueError(f"--init {args.init}: its scaler was fitted on "
                             f"{', '.join(scaler.features)}, the training data have "
                             f"{', '.join(features)}; give --features in the model's order")
        if win.units and any(u is not None and w is not None and u != w
                             for u, w in zip(scaler.units, win.units)):
            raise ValueError(f"--init {args.init}: its scaler is in units "
                             f"{', '.join(map(str, scaler.units))}, the training data in "
                             f"{', '.join(map(str, win.units))}")
        data_desc["init"] = {"file": Path(args.init).name, "scaler": "the model's own"}
    if initial is not None:
        from lstm_chiplet.detect import file_digest
        data_desc.setdefault("init", {"file": Path(args.init).name, "scaler": "fitted here"})
        data_desc["init"]["sha256"] = file_digest(Path(args.init))
    else:
        scaler = MinMaxScaler.fit(raw, features, what="training windows", units=win.units or None)
        scaler.check_span(f"training windows of {data_desc['file']}")
    unknown = [f for f, u in zip(scaler.features, scaler.units) if u is None]
    if unknown:
        print(f"warning: the unit of {', '.join(unknown)} cannot be told from "
              f"{data_desc['file']}: the model's scaler records it as unknown, and detect "
              "cannot check or convert the units of data scored with it", file=sys.stderr)
    data_desc["units"] = dict(zip(scaler.features, scaler.units))
    x = scaler.transform(raw)
    range_weight = args.range_weight if args.range_weight is not None else (1.0 if args.quant_aware else 0.0)
    decay = args.weight_decay if args.weight_decay is not None else (
        QUANT_AWARE_DECAY if args.quant_aware else 0.0)
    limits = range_limits_for(QUANT_AWARE_PREACT) if (args.quant_aware or range_weight > 0) else None
    config = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate,
                            final_learning_rate=args.learning_rate / 10.0,
                            validation_fraction=args.validation_fraction, seed=args.seed,
                            range_limits=limits, range_weight=range_weight, weight_decay=decay)
    fmts = DEFAULT_FORMATS
    print(f"training {cfg.describe()} on {len(x)} windows ({data_desc['source']}: "
          f"{data_desc['file']}), {config.epochs} epochs, seed {config.seed}"
          + (f", from {args.init}" if initial is not None else ""), file=sys.stderr)
    if config.penalised:
        what = []
        if config.range_penalised:
            what.append(f"range penalty {range_weight:g} beyond |z| {limits[0]:.2f} (sigmoid gates) and "
                        f"{limits[1]:.2f} (z_g and c), for {short_format(QUANT_AWARE_PREACT, 'preact')}")
        if decay > 0:
            what.append(f"weight decay {decay:g}")
        print("quantization-aware: " + "; ".join(what), file=sys.stderr)
    if config.validation_fraction == 0 and cfg.parameter_count > PARAMETERS_PER_WINDOW * len(x):
        print(f"warning: {cfg.parameter_count} parameters trained on {len(x)} window(s) without "
              "validation: nothing will show whether the model learnt more than these windows",
              file=sys.stderr)
    try:
        result = train(x, cfg, config, fmts, initial=None if initial is None else initial.model,
                       progress=None if args.quiet else sys.stderr)
    except FloatingPointError as exc:
        raise ValueError(f"{exc}; nothing was written") from None
    hist = result.history
    reasons = divergence_reasons(hist, cfg.parameter_count)
    if reasons and not args.force:
        raise ValueError("training diverged: " + "; ".join(reasons) + f"; {out} was not "
                         "written (lower --learning-rate, or --force to save it anyway)")
    for why in reasons:
        print(f"warning: training diverged ({why}); saved because of --force", file=sys.stderr)
    peak = max(float(np.max(np.abs(a))) for a in result.model.get_weights())
    provenance = {
        "created_by": "lstm-chiplet train (lstm_chiplet.workload.training)",
        "data": data_desc,
        "training": dict(config.to_dict(), train_windows=result.train_windows,
                         val_windows=result.val_windows, arithmetic="float64",
                         loss="mean squared reconstruction error"
                         + (" + quantization-aware terms" if config.penalised else ""),
                         init=None if initial is None else str(args.init)),
        "history": hist.summary(),
        "divergence": reasons,
        "weights": {"peak_abs": peak, "weight_format": fmts.weight.describe(),
                    "l_inf_limit": float(fmts.weight.max), "at_limit": hist.clipped_weights},
        "numpy": np.__version__,
    }
    # what is stored (possibly float32) is what the evaluation below uses
    save_model(out, result.model, scaler, fmts, provenance, data_format, args.storage)
    loaded = load_model(out)
    fixed = loaded.fixed()              # raises, naming the file, if a weight does not fit
    evaluation = None
    if synth is not None:
        all_x = scaler.transform(win.sequences)
        scores = model_scores(loaded.model, all_x)
        evaluation = synthetic.separation(scores, win.times, synth.anomalies)
        provenance["evaluation"] = {"data": f"{synth.csv_path.name} (all windows, float model)",
                                    **{k: v for k, v in evaluation.items()}}
        save_model(out, loaded.model, scaler, loaded.formats, provenance, data_format, args.storage)
        loaded = load_model(out)

    s = hist.summary()
    print(f"loss: first epoch {s['loss_first']:.5f}, last {s['loss_last']:.5f}"
          + (f"; validation first {s['val_loss_first']:.5f}, best {s['val_loss_best']:.5f} "
             f"(epoch {s['val_best_epoch']}), last {s['val_loss_last']:.5f}" if "val_loss_best" in s else "")
          + f"; {s['seconds']:.0f} s")
    if "penalty_first" in s:
        print(f"quantization-aware terms: first epoch {s['penalty_first']:.2e}, last "
              f"{s['penalty_last']:.2e}")
    print(f"returned weights of epoch {s['returned_epoch']}; largest |weight| {peak:.4f} "
          f"(limit {fmts.weight.max:g}, {fmts.weight.describe()}), {hist.clipped_weights} at the limit; "
          f"quantizes to {fixed.formats.layers[0].weight.describe()}"
          + (" without overflow" if hist.clipped_weights == 0 else ", clipped at its limit"))
    if evaluation is not None:
        print(synthetic.format_separation(evaluation))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, weights stored as {args.storage})")
    return 0
