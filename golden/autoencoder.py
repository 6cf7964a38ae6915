"""The LSTM autoencoder of the reference workload, in float and in fixed point.

Topology (every size comes from :class:`AutoencoderConfig`)::

    windows (N, T, F)
      -> encoder LSTM layers (return sequences; the last encoder layer's final h
         is the latent vector)
      -> latent repeated T times
      -> decoder LSTM layers (return sequences)
      -> Dense(F) applied at every step
      -> reconstruction (N, T, F)

The reference configuration (the user's trained model) is encoder (64, 32), decoder
(32, 64), F = 6, T = 24: 64,134 parameters.

Weights travel in the Keras ``get_weights()`` order: for each LSTM layer (encoder
first) kernel (D, 4H), recurrent kernel (H, 4H), bias (4H), gate order i, f, c (= g),
o; then the Dense kernel (H_last, F) and bias (F).  An ``.npz`` saved from that list
holds them as ``arr_0`` .. ``arr_{3L+1}`` (``arr_0`` .. ``arr_13`` for four layers)
and maps 1:1 onto :meth:`Autoencoder.from_weights`.

Fixed point (:class:`FixedAutoencoder`, formats :class:`golden.formats.ModelFormats`):
every LSTM layer runs on the fast kernels of :mod:`golden.lstm_fixed` in its own
formats; the windows are quantized to the first layer's ``vec``; where layer k + 1's
``vec`` differs from layer k's, its input (h, or the repeated latent vector) is
requantized into it::

    x_{k+1} = vec_{k+1}.requantize(h_k, vec_k.frac)

(round with vec_{k+1}'s rounding, then its overflow mode; nothing happens where the
formats are equal).  The Dense layer follows the arithmetic contract::

    y = out.requantize(h @ Wd + (bd << vec.frac), weight.frac + vec.frac)

(vec the last layer's; Wd, bd in the dense weight format; the accumulator is exact;
one rounding, then saturation to the output format).

Test-workload generators (until the project ships a trained model):
:func:`realistic_weights` and :func:`synthetic_windows`; their assumptions are in
their docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from .formats import DEFAULT_FORMATS, ClampCounts, FormatError, LSTMFormats, ModelFormats
from .lstm_float import LSTMWeights, ShapeError, check_sequences, lstm_layer
from .lstm_fixed import FixedLSTMWeights, check_int64, exact_arithmetic, lstm_layer_fixed, matvec_bound

#: The reference topology's sizes.
REFERENCE_FEATURES = 6
REFERENCE_ENCODER = (64, 32)
REFERENCE_DECODER = (32, 64)
REFERENCE_TIMESTEPS = 24


def _positive_sizes(name: str, sizes) -> tuple:
    try:
        out = tuple(int(s) for s in sizes)
    except TypeError:
        raise ShapeError(f"autoencoder config: {name} must be a sequence of layer sizes, "
                         f"got {sizes!r}") from None
    if not out:
        raise ShapeError(f"autoencoder config: {name} needs at least one LSTM layer")
    if any(s < 1 for s in out) or any(int(s) != s for s in sizes):
        raise ShapeError(f"autoencoder config: {name} sizes must be positive integers, got {sizes!r}")
    return out


@dataclass(frozen=True)
class AutoencoderConfig:
    """Sizes of an LSTM autoencoder.

    Parameters
    ----------
    features : int
        F, values per time step (input and reconstruction).
    encoder_sizes : tuple of int
        Hidden sizes of the encoder LSTM layers, first to last; the last one is the
        latent size.
    decoder_sizes : tuple of int
        Hidden sizes of the decoder LSTM layers, first to last.
    timesteps : int
        T, steps per window (and repeats of the latent vector).
    """

    features: int = REFERENCE_FEATURES
    encoder_sizes: tuple = REFERENCE_ENCODER
    decoder_sizes: tuple = REFERENCE_DECODER
    timesteps: int = REFERENCE_TIMESTEPS

    def __post_init__(self):
        for name in ("features", "timesteps"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ShapeError(f"autoencoder config: {name} must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        object.__setattr__(self, "encoder_sizes", _positive_sizes("encoder_sizes", self.encoder_sizes))
        object.__setattr__(self, "decoder_sizes", _positive_sizes("decoder_sizes", self.decoder_sizes))

    @property
    def latent_size(self) -> int:
        return self.encoder_sizes[-1]

    @property
    def hidden_sizes(self) -> tuple:
        """All LSTM hidden sizes, encoder then decoder."""
        return self.encoder_sizes + self.decoder_sizes

    @property
    def num_layers(self) -> int:
        return len(self.hidden_sizes)

    @property
    def layer_shapes(self) -> List[tuple]:
        """(input size D, hidden size H) of every LSTM layer, encoder then decoder."""
        shapes, d = [], self.features
        for h in self.hidden_sizes:
            shapes.append((d, h))
            d = h
        return shapes

    def layer_name(self, index: int) -> str:
        ne = len(self.encoder_sizes)
        if index < ne:
            return f"encoder LSTM {index + 1}"
        return f"decoder LSTM {index - ne + 1}"

    @property
    def parameter_count(self) -> int:
        n = sum(4 * h * (d + h + 1) for d, h in self.layer_shapes)
        return n + self.hidden_sizes[-1] * self.features + self.features

    def weight_shapes(self) -> List[tuple]:
        """Shapes in Keras ``get_weights()`` order (arr_0, arr_1, ...)."""
        shapes = []
        for d, h in self.layer_shapes:
            shapes += [(d, 4 * h), (h, 4 * h), (4 * h,)]
        return shapes + [(self.hidden_sizes[-1], self.features), (self.features,)]

    def weight_names(self) -> List[str]:
        names = []
        for k in range(self.num_layers):
            layer = self.layer_name(k)
            names += [f"{layer} kernel", f"{layer} recurrent kernel", f"{layer} bias"]
        return names + ["dense kernel", "dense bias"]

    def to_dict(self) -> dict:
        return {"features": self.features, "encoder_sizes": list(self.encoder_sizes),
                "decoder_sizes": list(self.decoder_sizes), "timesteps": self.timesteps}

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        return cls(d["features"], tuple(d["encoder_sizes"]), tuple(d["decoder_sizes"]),
                   d["timesteps"])

    def describe(self) -> str:
        enc = " -> ".join(str(h) for h in self.encoder_sizes)
        dec = " -> ".join(str(h) for h in self.decoder_sizes)
        return (f"{self.features} -> {enc} | repeat x{self.timesteps} | {dec} -> "
                f"Dense {self.features}  ({self.parameter_count:,} parameters)")


def run_layers(x, layers, cfg: AutoencoderConfig, layer_fn, adapt=None):
    """The autoencoder's LSTM stack on a batch of sequences ``x`` (N, T, F).

    The encoder layers in turn, then the latent vector (the last h of the last encoder
    layer) repeated T times into the decoder layers.  ``layer_fn(seq, weights) -> (h, c)``
    runs one layer (float, fixed-point kernel or specification).  ``adapt(k, seq)``,
    when given, turns the input of layer k >= 1 into that layer's input format.
    Returns the lists of every layer's h and c sequences and the latent vectors
    (N, H_latent).
    """
    hs, cs, latent = [], [], None
    seq = x
    ne = len(cfg.encoder_sizes)
    for k, w in enumerate(layers):
        if k == ne:
            seq = np.repeat(latent[:, None, :], cfg.timesteps, axis=1)
        if k and adapt is not None:
            seq = adapt(k, seq)
        seq, c = layer_fn(seq, w)
        hs.append(seq)
        cs.append(c)
        if k == ne - 1:
            latent = seq[:, -1, :]
    return hs, cs, latent


def window_scores(windows, reconstruction) -> np.ndarray:
    """Mean squared reconstruction error of each window over its T x F values."""
    w = np.asarray(windows, dtype=np.float64)
    r = np.asarray(reconstruction, dtype=np.float64)
    if w.shape != r.shape or w.ndim != 3:
        raise ShapeError(f"window scores: windows {w.shape} and reconstruction {r.shape} "
                         "must both be (N, T, F)")
    return np.mean((r - w) ** 2, axis=(1, 2))


def _check_windows(windows, cfg: AutoencoderConfig, what: str = "windows") -> np.ndarray:
    x = check_sequences(windows, cfg.features, what)
    if x.shape[1] != cfg.timesteps:
        raise ShapeError(f"{what}: expected {cfg.timesteps} time steps per window "
                         f"(the model repeats its latent vector {cfg.timesteps} times), "
                         f"got shape {x.shape}")
    return x


class Autoencoder:
    """Float LSTM autoencoder (the reference the fixed-point model is measured against).

    Parameters
    ----------
    cfg : AutoencoderConfig
    layers : sequence of LSTMWeights
        Encoder layers then decoder layers (Keras layout).
    dense_kernel : array (H_last, F)
    dense_bias : array (F,)
    """

    def __init__(self, cfg: AutoencoderConfig, layers: Sequence[LSTMWeights], dense_kernel,
                 dense_bias):
        self.cfg = cfg
        layers = tuple(layers)
        if len(layers) != cfg.num_layers:
            raise ShapeError(f"autoencoder: config has {cfg.num_layers} LSTM layers, "
                             f"got weights for {len(layers)}")
        for k, (w, (d, h)) in enumerate(zip(layers, cfg.layer_shapes)):
            if (w.input_size, w.hidden_size) != (d, h):
                raise ShapeError(f"{cfg.layer_name(k)}: expected input size {d} and hidden size {h}, "
                                 f"got {w.input_size} and {w.hidden_size}")
        self.layers = layers
        dk = np.asarray(dense_kernel, dtype=np.float64)
        db = np.asarray(dense_bias, dtype=np.float64)
        expect = (cfg.hidden_sizes[-1], cfg.features)
        if dk.shape != expect:
            raise ShapeError(f"dense kernel: expected shape {expect}, got {dk.shape}")
        if db.shape != (cfg.features,):
            raise ShapeError(f"dense bias: expected shape ({cfg.features},), got {db.shape}")
        for name, a in (("dense kernel", dk), ("dense bias", db)):
            if not np.all(np.isfinite(a)):
                raise FormatError(f"{name}: {int(a.size - np.count_nonzero(np.isfinite(a)))} "
                                  "value(s) are NaN or infinite")
        self.dense_kernel = dk
        self.dense_bias = db

    # ------------------------------------------------------------- structure
    @property
    def encoder(self) -> tuple:
        return self.layers[:len(self.cfg.encoder_sizes)]

    @property
    def decoder(self) -> tuple:
        return self.layers[len(self.cfg.encoder_sizes):]

    @property
    def parameter_count(self) -> int:
        n = sum(w.kernel.size + w.recurrent.size + w.bias.size for w in self.layers)
        return int(n + self.dense_kernel.size + self.dense_bias.size)

    # ------------------------------------------------------------ weights IO
    def get_weights(self) -> List[np.ndarray]:
        """Arrays in Keras ``get_weights()`` order (see module docstring)."""
        out = []
        for w in self.layers:
            out += [w.kernel.copy(), w.recurrent.copy(), w.bias.copy()]
        return out + [self.dense_kernel.copy(), self.dense_bias.copy()]

    @classmethod
    def from_weights(cls, arrays: Sequence, cfg: Optional[AutoencoderConfig] = None,
                     encoder_layers: Optional[int] = None,
                     timesteps: int = REFERENCE_TIMESTEPS) -> "Autoencoder":
        """Build from a Keras-ordered list of arrays (``arr_0``, ``arr_1``, ...).

        Parameters
        ----------
        arrays : sequence of array-like
            Per LSTM layer kernel, recurrent kernel, bias; then dense kernel, bias.
        cfg : AutoencoderConfig, optional
            Expected sizes; every shape is checked against it.  Without it the sizes
            are read from the arrays; the split between encoder and decoder cannot be
            seen in the shapes, so ``encoder_layers`` says it (default: half of the
            LSTM layers, the symmetric autoencoder).
        timesteps : int
            T when ``cfg`` is not given (it is not stored in the weights).

        Raises
        ------
        ShapeError
            Naming ``arr_k`` and the tensor it should hold.
        """
        arrays = list(arrays)
        n = len(arrays)
        if n < 5 or (n - 2) % 3 != 0:
            raise ShapeError(f"autoencoder weights: expected 3 arrays per LSTM layer plus the dense "
                             f"kernel and bias (3L + 2 arrays, L >= 1), got {n} arrays")
        arrs = []
        for k, a in enumerate(arrays):
            try:
                a = np.asarray(a, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ShapeError(f"arr_{k}: not a numeric array ({exc})") from None
            arrs.append(a)
        num_layers = (n - 2) // 3
        if cfg is None:
            cfg = _config_from_shapes(arrs, num_layers, encoder_layers, timesteps)
        if cfg.num_layers != num_layers:
            raise ShapeError(f"autoencoder weights: config has {cfg.num_layers} LSTM layers "
                             f"({3 * cfg.num_layers + 2} arrays), got {n} arrays")
        for k, (a, shape, name) in enumerate(zip(arrs, cfg.weight_shapes(), cfg.weight_names())):
            if a.shape != shape:
                raise ShapeError(f"arr_{k} ({name}): expected shape {shape}, got {a.shape}")
            if not np.all(np.isfinite(a)):
                bad = int(a.size - np.count_nonzero(np.isfinite(a)))
                raise FormatError(f"arr_{k} ({name}): {bad} value(s) are NaN or infinite")
        layers = [LSTMWeights.from_keras(*arrs[3 * j:3 * j + 3]) for j in range(num_layers)]
        return cls(cfg, layers, arrs[-2], arrs[-1])

    # --------------------------------------------------------------- running
    def forward_float(self, windows) -> dict:
        """Run the float model, keeping every layer's states.

        Returns
        -------
        dict
            ``h`` and ``c``: lists (one per LSTM layer) of (N, T, H) arrays;
            ``latent`` (N, H_latent); ``reconstruction`` (N, T, F).
        """
        x = _check_windows(windows, self.cfg)
        hs, cs, latent = run_layers(x, self.layers, self.cfg, lstm_layer)
        recon = hs[-1] @ self.dense_kernel + self.dense_bias
        return {"h": hs, "c": cs, "latent": latent, "reconstruction": recon}

    def reconstruct_float(self, windows) -> np.ndarray:
        """(N, T, F) windows -> (N, T, F) float reconstruction."""
        return self.forward_float(windows)["reconstruction"]

    def scores_float(self, windows) -> np.ndarray:
        """Window scores (MSE over T x F) of the float model."""
        return window_scores(windows, self.reconstruct_float(windows))

    def quantize(self, fmts=DEFAULT_FORMATS) -> "FixedAutoencoder":
        """The fixed-point model in ``fmts``: one :class:`LSTMFormats` for every layer,
        or per-layer :class:`ModelFormats`."""
        return FixedAutoencoder.from_float(self, fmts)


def _config_from_shapes(arrs, num_layers, encoder_layers, timesteps) -> AutoencoderConfig:
    hidden = []
    for j in range(num_layers):
        r = arrs[3 * j + 1]
        if r.ndim != 2 or r.shape[1] != 4 * r.shape[0]:
            raise ShapeError(f"arr_{3 * j + 1} (recurrent kernel of LSTM layer {j + 1}): "
                             f"expected shape (H, 4H), got {r.shape}")
        hidden.append(r.shape[0])
    k0 = arrs[0]
    if k0.ndim != 2:
        raise ShapeError(f"arr_0 (kernel of LSTM layer 1): expected shape (F, 4H), got {k0.shape}")
    ne = num_layers // 2 if encoder_layers is None else int(encoder_layers)
    if not 1 <= ne < num_layers:
        raise ShapeError(f"autoencoder weights: encoder_layers must be in 1..{num_layers - 1} "
                         f"for {num_layers} LSTM layers, got {encoder_layers!r}")
    return AutoencoderConfig(k0.shape[0], tuple(hidden[:ne]), tuple(hidden[ne:]), timesteps)


class FixedAutoencoder:
    """The autoencoder in fixed point (fast integer kernels, the arithmetic contract).

    Attributes
    ----------
    cfg : AutoencoderConfig
    formats : ModelFormats
        Every layer's formats and the Dense layer's.
    layers : tuple of FixedLSTMWeights
        Layer k in ``formats.layers[k]``.
    dense_kernel, dense_bias : int64 arrays in ``formats.dense.weight``
    source : Autoencoder or None
        The float model it was quantized from (None when built from integers).
    """

    def __init__(self, cfg: AutoencoderConfig, layers: Sequence[FixedLSTMWeights], dense_kernel,
                 dense_bias, fmts=DEFAULT_FORMATS, source: Optional[Autoencoder] = None):
        self.cfg = cfg
        self.formats = ModelFormats.uniform(fmts, cfg.num_layers)
        self.layers = tuple(layers)
        if len(self.layers) != cfg.num_layers:
            raise ShapeError(f"fixed autoencoder: config has {cfg.num_layers} LSTM layers, "
                             f"got {len(self.layers)}")
        for k, (w, (d, h)) in enumerate(zip(self.layers, cfg.layer_shapes)):
            if (w.input_size, w.hidden_size) != (d, h):
                raise ShapeError(f"{cfg.layer_name(k)}: expected input size {d} and hidden size {h}, "
                                 f"got {w.input_size} and {w.hidden_size}")
            if w.fmts != self.formats.layers[k]:
                raise FormatError(f"{cfg.layer_name(k)}: weights quantized with other formats "
                                  "than the model's formats give this layer")
        wf = self.formats.dense.weight
        dk = np.asarray(dense_kernel)
        db = np.asarray(dense_bias)
        expect = (cfg.hidden_sizes[-1], cfg.features)
        if dk.shape != expect:
            raise ShapeError(f"dense kernel: expected shape {expect}, got {dk.shape}")
        if db.shape != (cfg.features,):
            raise ShapeError(f"dense bias: expected shape ({cfg.features},), got {db.shape}")
        for name, a in (("dense kernel", dk), ("dense bias", db)):
            if not np.issubdtype(a.dtype, np.integer):
                raise FormatError(f"{name}: expected integers of {wf.describe()}, "
                                  f"got dtype {a.dtype}")
            if a.size and (a.min() < wf.int_min or a.max() > wf.int_max):
                raise FormatError(f"{name}: integers span [{a.min()}, {a.max()}], outside "
                                  f"{wf.describe()}")
        self.dense_kernel = dk.astype(np.int64)
        self.dense_bias = db.astype(np.int64)
        self.source = source
        self._check_dense_exact()

    def _check_dense_exact(self) -> None:
        """Choose the dense layer's arithmetic from its formats (float64 where every
        partial sum is exact, else int64) and refuse requantizations int64 cannot hold."""
        fm = self.formats
        bound = matvec_bound(fm.dense_in, fm.dense.weight, self.cfg.hidden_sizes[-1], fm.output)
        self._dense_arithmetic = exact_arithmetic(bound, "dense layer")
        check_int64(bound << max(0, fm.output.frac_bits - fm.dense_acc_frac), "dense layer")
        self._dense_kernel_float = self.dense_kernel.astype(np.float64)
        for k in range(1, self.cfg.num_layers):
            src, dst = fm.layers[k - 1].vec, fm.layers[k].vec
            check_int64((1 << (src.word_bits - 1)) << max(0, dst.frac_bits - src.frac_bits),
                        f"{self.cfg.layer_name(k)} input")

    @property
    def fmts(self) -> LSTMFormats:
        """The one set of formats of a model whose layers all share it.

        Raises :class:`FormatError` for per-layer formats: a caller that needs a single
        datapath format cannot serve such a model (use :attr:`formats`).
        """
        g = self.formats.global_formats
        if g is None:
            raise FormatError("this model has per-layer formats (" + "; ".join(
                self.formats.describe(self.layer_names).splitlines()) + "); this step "
                "needs one set of formats for every layer")
        return g

    @property
    def layer_names(self) -> List[str]:
        return [self.cfg.layer_name(k) for k in range(self.cfg.num_layers)]

    @classmethod
    def from_float(cls, ae: Autoencoder, fmts=DEFAULT_FORMATS) -> "FixedAutoencoder":
        """Quantize every tensor to its layer's weight format; a tensor out of range
        raises, naming it.  ``fmts``: :class:`LSTMFormats` (all layers) or
        :class:`ModelFormats`."""
        formats = ModelFormats.uniform(fmts, ae.cfg.num_layers)
        layers = [FixedLSTMWeights.from_float(w, formats.layers[k], ae.cfg.layer_name(k))
                  for k, w in enumerate(ae.layers)]
        dense = []
        wf = formats.dense.weight
        for name, t in (("dense kernel", ae.dense_kernel), ("dense bias", ae.dense_bias)):
            wf.check_fits(t, name)
            dense.append(wf.quantize(t, name))
        return cls(ae.cfg, layers, dense[0], dense[1], formats, source=ae)

    def to_float(self) -> Autoencoder:
        """The float model with exactly the quantized weights."""
        f = self.formats.dense.weight
        return Autoencoder(self.cfg, [w.to_float() for w in self.layers],
                           f.to_float(self.dense_kernel), f.to_float(self.dense_bias))

    def quantize_windows(self, windows, clamps: Optional[ClampCounts] = None) -> np.ndarray:
        """Float windows (N, T, F) -> integers of the first layer's vec format
        (round, saturate); ``clamps`` counts the values saturated."""
        x = _check_windows(windows, self.cfg)
        fmt = self.formats.input
        if clamps is not None:
            big = float(1 << 62)
            scaled = np.clip(np.ldexp(x, fmt.frac_bits), -big, big)
            r = np.floor(scaled + 0.5) if fmt.rounding == "nearest_posinf" else np.floor(scaled)
            clamps.record(self.cfg.layer_name(0), "x", r, fmt)
        return fmt.quantize(x, "windows")

    def requantize_between(self, k: int, seq, clamps: Optional[ClampCounts] = None) -> np.ndarray:
        """Layer k's input (integers in layer k - 1's vec) in layer k's vec format."""
        src, dst = self.formats.layers[k - 1].vec, self.formats.layers[k].vec
        if src == dst:
            return seq
        if clamps is not None:
            clamps.record(self.cfg.layer_name(k), "x",
                          dst.shift_round(seq, src.frac_bits - dst.frac_bits), dst)
        return dst.requantize(seq, src.frac_bits)

    def dense_int(self, h, clamps: Optional[ClampCounts] = None) -> np.ndarray:
        """Dense layer on the last layer's vec integers (..., H_last) -> integers of the
        output format (..., F)."""
        fm = self.formats
        h = np.asarray(h, dtype=np.int64)
        if self._dense_arithmetic == "float64":
            acc = (h.astype(np.float64) @ self._dense_kernel_float).astype(np.int64)
        else:
            acc = h @ self.dense_kernel
        acc += self.dense_bias << fm.dense_in.frac_bits
        if clamps is not None:
            clamps.record("dense", "y", fm.output.shift_round(acc, fm.dense_acc_frac
                                                               - fm.output.frac_bits), fm.output)
        return fm.output.requantize(acc, fm.dense_acc_frac)

    def forward_int(self, x_int, clamps: Optional[ClampCounts] = None) -> dict:
        """Run on integer windows (N, T, F) in the input format, keeping every layer's
        states.

        Parameters
        ----------
        x_int : int array (N, T, F)
        clamps : ClampCounts, optional
            Counts every value a requantization point clamped, per layer and tensor
            (the results are the same with or without it).

        Returns
        -------
        dict
            ``h``, ``c``: lists of (N, T, H) int64 arrays per LSTM layer (each in its
            layer's formats); ``latent``; ``reconstruction`` (N, T, F) int64 in the
            output format.
        """
        x = np.asarray(x_int)
        if x.ndim != 3 or x.shape[1:] != (self.cfg.timesteps, self.cfg.features):
            raise ShapeError(f"integer windows: expected shape (N, {self.cfg.timesteps}, "
                             f"{self.cfg.features}), got {x.shape}")
        names = iter(self.layer_names)        # run_layers calls layer_fn in layer order

        def layer_fn(seq, w):
            return lstm_layer_fixed(seq, w, clamps=clamps, layer=next(names))

        hs, cs, latent = run_layers(x, self.layers, self.cfg, layer_fn,
                                    lambda k, seq: self.requantize_between(k, seq, clamps))
        return {"h": hs, "c": cs, "latent": latent,
                "reconstruction": self.dense_int(hs[-1], clamps)}

    def reconstruct_int(self, windows, clamps: Optional[ClampCounts] = None) -> np.ndarray:
        """Float windows (N, T, F) -> reconstruction as output-format integers (N, T, F)."""
        return self.forward_int(self.quantize_windows(windows, clamps), clamps)["reconstruction"]

    def reconstruct(self, windows, clamps: Optional[ClampCounts] = None) -> np.ndarray:
        """Float windows -> the fixed-point reconstruction as real numbers."""
        return self.formats.output.to_float(self.reconstruct_int(windows, clamps))

    def saturation(self, windows) -> ClampCounts:
        """How many values every requantization point clamps on ``windows``."""
        clamps = ClampCounts()
        self.reconstruct_int(windows, clamps)
        return clamps

    def scores(self, windows) -> np.ndarray:
        """Window scores (MSE over T x F) of the fixed-point reconstruction."""
        return window_scores(windows, self.reconstruct(windows))


# --------------------------------------------------------------------------
# Test workload generators
# --------------------------------------------------------------------------

def _glorot_uniform(rng, fan_in: int, fan_out: int, shape) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal_rows(rng, rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows (or columns when rows > cols)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows <= cols else q


def realistic_layer(rng, d: int, h: int, *, kernel_gain: float = 2.5,
                    recurrent_gain: float = 1.6, bias_spread: float = 0.35) -> LSTMWeights:
    """One LSTM layer's weights in the ranges a trained model has (see realistic_weights)."""
    kernel = kernel_gain * _glorot_uniform(rng, d, 4 * h, (d, 4 * h))
    # Keras initialises the recurrent kernel orthogonally; orthonormal rows of length
    # 4H give entries of size ~1/sqrt(4H).  Training grows it; the gain says by how much.
    recurrent = recurrent_gain * _orthogonal_rows(rng, h, 4 * h)
    recurrent = recurrent + 0.2 * recurrent_gain / np.sqrt(4 * h) * rng.standard_normal((h, 4 * h))
    bias = bias_spread * rng.standard_normal(4 * h)
    bias[h:2 * h] += 1.0            # unit forget bias (Keras default), kept by training
    kernel = np.clip(kernel, -1.75, 1.75)
    recurrent = np.clip(recurrent, -1.75, 1.75)
    bias = np.clip(bias, -1.75, 1.75)
    return LSTMWeights(kernel, recurrent, bias)


def realistic_weights(cfg: AutoencoderConfig = AutoencoderConfig(), seed: int = 0) -> Autoencoder:
    """An autoencoder with weights drawn in the ranges a trained model has.

    Assumptions (a stand-in until the project ships its trained model):

    * kernels: Keras's glorot-uniform initialisation, limit ``sqrt(6/(D+4H))``, widened
      by 2.5 (trained input weights of small-D layers grow well beyond their
      initialisation); for D = 6, H = 64 that is +-0.38;
    * recurrent kernels: Keras's orthogonal initialisation (orthonormal rows, entries
      about ``1/sqrt(4H)``) scaled by 1.6 plus 20 % gaussian perturbation: trained
      recurrent weights keep the orthogonal structure and grow moderately;
    * biases: gaussian, spread 0.35, plus the unit forget-gate bias;
    * dense layer: glorot-uniform kernel, bias around 0.5 (the mean of [0, 1]-scaled
      data, which a trained reconstruction layer learns first);
    * every value clipped to +-1.75, well inside +-2 (and the default Q4.12 weight
      format's +-8).

    Parameters
    ----------
    cfg : AutoencoderConfig
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same model.
    """
    rng = np.random.default_rng(seed)
    layers = [realistic_layer(rng, d, h) for d, h in cfg.layer_shapes]
    hl = cfg.hidden_sizes[-1]
    dense_kernel = np.clip(_glorot_uniform(rng, hl, cfg.features, (hl, cfg.features)), -1.75, 1.75)
    dense_bias = 0.5 + 0.1 * rng.standard_normal(cfg.features)
    return Autoencoder(cfg, layers, dense_kernel, dense_bias)


def synthetic_windows(n: int, cfg: AutoencoderConfig = AutoencoderConfig(), seed: int = 0,
                      stride: int = 1) -> np.ndarray:
    """Realistic weather-like windows, min-max scaled to [0, 1]: (n, T, F).

    One hourly series of ``(n - 1) * stride + T`` steps is generated and cut into
    windows with the given stride (stride 1: overlapping, as the workload does).  Its
    features mix three shared drivers, so they are correlated the way weather
    variables are: a diurnal cycle (24 h, with a drifting phase and amplitude), a
    synoptic cycle (pressure systems, 3 to 6 days) and a slow seasonal trend; each
    feature adds its own AR(1) noise (coefficient 0.8).  The series is min-max scaled
    per feature to [0, 1], like data scaled with a scaler fitted on it.
    """
    if int(n) != n or n < 1:
        raise ShapeError(f"synthetic windows: n must be a positive integer, got {n!r}")
    if int(stride) != stride or stride < 1:
        raise ShapeError(f"synthetic windows: stride must be a positive integer, got {stride!r}")
    n, stride = int(n), int(stride)
    rng = np.random.default_rng(seed)
    steps = (n - 1) * stride + cfg.timesteps
    t = np.arange(steps, dtype=np.float64)
    diurnal_amp = 1.0 + 0.3 * np.sin(2 * np.pi * t / (24 * 9.0) + rng.uniform(0, 2 * np.pi))
    diurnal = diurnal_amp * np.sin(2 * np.pi * t / 24.0 + rng.uniform(0, 2 * np.pi)
                                   + 0.3 * np.sin(2 * np.pi * t / 300.0))
    synoptic_period = rng.uniform(72.0, 144.0)
    synoptic = np.sin(2 * np.pi * t / synoptic_period + rng.uniform(0, 2 * np.pi))
    synoptic += 0.4 * np.sin(2 * np.pi * t / (0.57 * synoptic_period) + rng.uniform(0, 2 * np.pi))
    seasonal = np.linspace(-1.0, 1.0, steps) * rng.uniform(0.5, 1.5)
    drivers = np.stack([diurnal, synoptic, seasonal], axis=1)           # (steps, 3)
    mixing = rng.normal(0.0, 1.0, size=(3, cfg.features))
    mixing[0] *= rng.uniform(0.3, 1.2, size=cfg.features)
    series = drivers @ mixing
    noise = np.empty((steps, cfg.features))
    e = rng.normal(0.0, 1.0, size=(steps, cfg.features))
    noise[0] = e[0]
    for s in range(1, steps):
        noise[s] = 0.8 * noise[s - 1] + 0.6 * e[s]
    series = series + rng.uniform(0.15, 0.4, size=cfg.features) * noise
    lo, hi = series.min(axis=0), series.max(axis=0)
    series = (series - lo) / np.where(hi > lo, hi - lo, 1.0)
    idx = np.arange(n)[:, None] * stride + np.arange(cfg.timesteps)[None, :]
    return series[idx]
