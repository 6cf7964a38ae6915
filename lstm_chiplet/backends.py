"""Backends that reconstruct windows with the LSTM autoencoder: float, fixed, rtl.

A backend takes min-max scaled windows (N, T, F) and returns their reconstruction.
Every backend offers the same small interface (:class:`Backend`), so the main job
(:mod:`lstm_chiplet.detect`) and its report never ask which one they hold:

``float``
    The float64 reference (:meth:`golden.autoencoder.Autoencoder.reconstruct_float`):
    what the trained model computes in software.
``fixed``
    The fast fixed-point golden model (:class:`golden.autoencoder.FixedAutoencoder`):
    the chip's arithmetic, integer for integer.  Its reconstruction is also returned
    as integers of the vec format.
``rtl``
    The converted Verilog of the whole autoencoder, co-simulated (Verilator by
    default, Icarus on request).  It must equal ``fixed`` bit for bit on every window.
``board``
    The same design on a board behind a serial port (:class:`BoardBackend`,
    :mod:`lstm_chiplet.board.driver`); also bit for bit equal to ``fixed``.

Cycles and bytes
----------------
``fixed`` and ``rtl`` describe the chip, so they report the host-link bytes of one
window (T input vectors in, T reconstructed vectors out, in the vec format:
:func:`lstm_chiplet.perf.window_link_bytes`) and its cycles.  ``fixed`` gives the
cycles of the whole-window design with ``lanes`` MAC lanes per gate unit
(:func:`engine_cycles`, :class:`hdl.autoencoder_config.AutoencoderEngineConfig`);
``rtl`` runs that design and gives the cycles it measured (the same figure).  ``float`` runs on the host: no cycles, no link.

Adding a backend
----------------
:func:`register_backend` maps a name to a factory
``factory(model, fixed, **options) -> Backend``; :func:`make_backend` builds one by
name.  The ``rtl`` factory looks for the co-simulation's whole-window runner
(:data:`RTL_RUNNER`, a callable in the ``cosim`` package)::

    run_autoencoder_windows(fixed_model, x_int, *, simulator="verilator", lanes=4,
                            progress=None) -> {"reconstruction": int array (N, T, F),
                                               "cycles_per_window": int}

with ``x_int`` the windows as vec-format integers (N, T, F).  Until that runner
exists, asking for ``rtl`` raises :class:`BackendUnavailable` with a message saying so.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import numpy as np

#: Windows per batch (progress is reported after each; the kernels loop over steps in
#: Python, so larger batches amortise that loop).
BATCH_WINDOWS = 512
#: MAC lanes per gate unit of the default engine configuration (must divide every H).
DEFAULT_LANES = 4
#: Where the rtl backend's whole-window runner lives: (module, function).
RTL_RUNNER = ("cosim.autoencoder", "run_autoencoder_windows")
#: Simulators the rtl backend accepts.
RTL_SIMULATORS = ("verilator", "icarus")

Progress = Callable[[int, int], None]


class BackendError(ValueError):
    """A backend cannot be built or run with these arguments (message says why)."""


class BackendUnavailable(BackendError):
    """The backend exists in the design but its machinery is not present here."""


@dataclass
class BackendRun:
    """What one backend produced for a set of windows.

    Attributes
    ----------
    backend : str
    reconstruction : ndarray of float64, (N, T, F)
        In the scaled units of the input windows.
    reconstruction_int : ndarray of int64, (N, T, F) or None
        The same as vec-format integers (``fixed`` and ``rtl`` only): compare these
        for bit-exactness, never the floats.
    seconds : float
        Wall-clock time of the run.
    cycles_per_window : int or None
        Cycles one window takes on the chip this backend describes.
    cycles_measured : bool
        True when the cycles were counted in simulation (``rtl``), False when they
        come from the engine configuration.
    """

    backend: str
    reconstruction: np.ndarray
    reconstruction_int: Optional[np.ndarray] = None
    seconds: float = 0.0
    cycles_per_window: Optional[int] = None
    cycles_measured: bool = False
    notes: dict = field(default_factory=dict)


class Backend:
    """The interface every backend offers (subclass it, or offer the same members).

    Attributes
    ----------
    name : str
        Registry name (``float``, ``fixed``, ``rtl``).
    exact : bool
        The backend computes in the vec format and returns integers.
    """

    name = "backend"
    exact = False

    def describe(self) -> str:
        """One line for the report."""
        raise NotImplementedError

    def reconstruct(self, windows, progress: Optional[Progress] = None) -> BackendRun:
        """Scaled windows (N, T, F) -> :class:`BackendRun`; ``progress(done, total)``."""
        raise NotImplementedError

    def cycles_per_window(self) -> Optional[int]:
        """Cycles of one window on the chip (None when the backend is not a chip)."""
        return None

    def bytes_per_window(self) -> Optional[dict]:
        """Host-link bytes of one window: ``{"in", "out", "total"}`` (None off-chip)."""
        return None


def _batched(fn, x: np.ndarray, progress: Optional[Progress], batch: int = BATCH_WINDOWS):
    """``fn`` over ``x`` in batches of windows, concatenated, reporting progress."""
    n = x.shape[0]
    parts = []
    if progress is not None:
        progress(0, n)
    for a in range(0, n, batch):
        parts.append(fn(x[a:a + batch]))
        if progress is not None:
            progress(min(a + batch, n), n)
    if not parts:
        return None
    return np.concatenate(parts, axis=0)


def short_formats(fmts) -> str:
    """``vec Q2.14, weight Q4.12, ...`` (signed words; Q<integer incl. sign>.<fraction>);
    per-layer formats (:class:`golden.formats.ModelFormats`) say so and list the first
    layer's."""
    from golden.formats import ModelFormats

    def q(f):
        return f"{'' if f.signed else 'u'}Q{f.word_bits - f.frac_bits}.{f.frac_bits}"
    if isinstance(fmts, ModelFormats):
        if fmts.global_formats is None:
            first = fmts.layers[0]
            return (f"per-layer formats, input {q(fmts.input)}, output {q(fmts.output)}, first layer "
                    + ", ".join(f"{role} {q(getattr(first, role))}"
                                for role in ("vec", "weight", "preact", "act")))
        fmts = fmts.global_formats
    return ", ".join(f"{role} {q(getattr(fmts, role))}" for role in ("vec", "weight", "preact", "act"))


def cycle_formats(fixed):
    """The formats the whole-window design's cycle figures are computed with.

    Cycles depend on the shapes and the lanes only, not on binary points, so a model
    with per-layer formats is counted with its first layer's.
    """
    g = fixed.formats.global_formats
    return g if g is not None else fixed.formats.layers[0]


def _topology(cfg):
    from .perf import Topology
    return Topology(cfg.features, cfg.encoder_sizes, cfg.decoder_sizes, steps=cfg.timesteps)


def engine_configs(cfg, fmts, lanes: int = DEFAULT_LANES) -> list:
    """One :class:`hdl.config.EngineConfig` per LSTM layer of the autoencoder ``cfg``.

    Raises
    ------
    BackendError
        ``lanes`` does not suit a layer (the message names the layer and the reason).
    """
    from golden.formats import FormatError
    from hdl.config import EngineConfig
    out = []
    for k, (d, h) in enumerate(cfg.layer_shapes):
        try:
            out.append(EngineConfig(int(d), int(h), int(lanes), fmts))
        except FormatError as exc:
            raise BackendError(f"{cfg.layer_name(k)} (D={d}, H={h}): {exc}") from None
    return out


def engine_cycles(cfg, fmts, lanes: int = DEFAULT_LANES) -> dict:
    """Cycles of one window on the whole-window design with ``lanes`` MAC lanes per gate unit.

    :class:`hdl.autoencoder_config.AutoencoderEngineConfig`: the window's load, every
    LSTM pass (T steps of ``(H/P)(D+H)`` cycles plus any gap), the dense pass; the
    same design the ``rtl`` backend runs, whose measured period equals this figure.

    Returns
    -------
    dict
        ``lanes``, ``multipliers``, ``layers`` (name, D, H, cycles_per_step,
        ideal_cycles per step, mac_utilisation), ``dense_cycles_per_step``,
        ``load_cycles``, ``cycles_per_window``, ``ideal_cycles_per_window``,
        ``macs_per_window`` and ``mac_utilisation`` of the window.
    """
    from golden.formats import FormatError
    from hdl.autoencoder_config import AutoencoderEngineConfig

    engine_configs(cfg, fmts, lanes)            # refusals that name the layer
    try:
        e = AutoencoderEngineConfig(cfg, int(lanes), fmts)
    except FormatError as exc:
        raise BackendError(f"whole-window design at {lanes} lanes: {exc}") from None
    table = e.cycle_table()
    lstm = [r for r in table if e.passes[r["pass"]].kind != "dense"]
    dense = [r for r in table if e.passes[r["pass"]].kind == "dense"][0]
    layers = [{"layer": cfg.layer_name(k), "input": r["inputs"], "hidden": r["hidden"],
               "cycles_per_step": r["step_cycles"], "ideal_cycles": r["blocks"] * r["columns"],
               "mac_utilisation": r["mac_utilisation"]} for k, r in enumerate(lstm)]
    return {"lanes": int(lanes), "multipliers": e.multipliers, "layers": layers,
            "dense_cycles_per_step": dense["step_cycles"], "load_cycles": e.load_cycles,
            "cycles_per_window": e.cycles_per_window, "ideal_cycles_per_window": e.ideal_cycles,
            "macs_per_window": e.macs_per_window, "mac_utilisation": e.mac_utilisation}


# --------------------------------------------------------------------------
# The backends
# --------------------------------------------------------------------------

class FloatBackend(Backend):
    """The float64 reference model."""

    name = "float"
    exact = False

    def __init__(self, model, fixed=None, **_):
        self.model = model

    def describe(self) -> str:
        return "float64 reference (numpy), the trained weights as they are"

    def reconstruct(self, windows, progress: Optional[Progress] = None) -> BackendRun:
        x = np.asarray(windows, dtype=np.float64)
        t0 = time.perf_counter()
        rec = _batched(self.model.reconstruct_float, x, progress)
        if rec is None:
            rec = np.zeros_like(x)
        return BackendRun(self.name, rec, None, time.perf_counter() - t0)


class FixedBackend(Backend):
    """The fast fixed-point golden model: the chip's arithmetic in numpy integers."""

    name = "fixed"
    exact = True

    def __init__(self, model, fixed=None, *, lanes: int = DEFAULT_LANES, **_):
        if fixed is None:
            fixed = model.quantize()
        self.model = model
        self.fixed = fixed
        self.lanes = int(lanes)
        self._cycles = engine_cycles(fixed.cfg, cycle_formats(fixed), self.lanes)
        self.clamps = None

    def describe(self) -> str:
        return f"fixed-point golden model ({short_formats(self.fixed.formats)})"

    def reconstruct(self, windows, progress: Optional[Progress] = None) -> BackendRun:
        """The fixed-point reconstruction; :attr:`clamps` then holds every clamp the
        requantization points made (:class:`golden.formats.ClampCounts`)."""
        from golden.formats import ClampCounts
        x = np.asarray(windows, dtype=np.float64)
        t0 = time.perf_counter()
        clamps = ClampCounts()
        rec_int = _batched(lambda xb: self.fixed.reconstruct_int(xb, clamps), x, progress)
        if rec_int is None:
            rec_int = np.zeros(x.shape, dtype=np.int64)
        self.clamps = clamps
        return BackendRun(self.name, self.fixed.formats.output.to_float(rec_int), rec_int,
                          time.perf_counter() - t0, self.cycles_per_window(), False)

    def engine(self) -> dict:
        """The engine configuration's cycle figures (:func:`engine_cycles`)."""
        return self._cycles

    def cycles_per_window(self) -> Optional[int]:
        return int(self._cycles["cycles_per_window"])

    def bytes_per_window(self) -> Optional[dict]:
        from .perf import window_link_bytes
        return window_link_bytes(_topology(self.fixed.cfg),
                                 max(self.fixed.formats.word_bits("vec")))


class RtlBackend(FixedBackend):
    """The converted Verilog of the whole autoencoder, co-simulated.

    Parameters
    ----------
    runner : callable
        The co-simulation's whole-window runner (see the module docstring).
    simulator : {"verilator", "icarus"}
    """

    name = "rtl"
    exact = True

    def __init__(self, model, fixed=None, *, runner, simulator: str = "verilator",
                 lanes: int = DEFAULT_LANES, **_):
        super().__init__(model, fixed, lanes=lanes)
        from golden.formats import FormatError
        from hdl.autoencoder_config import AutoencoderEngineConfig
        try:        # per-layer formats run when every role keeps one word width
            AutoencoderEngineConfig.for_model(self.fixed, self.lanes)
        except FormatError as exc:
            raise BackendError(f"rtl backend: {exc}") from None
        if simulator not in RTL_SIMULATORS:
            raise BackendError(f"rtl backend: simulator must be one of {RTL_SIMULATORS}, "
                               f"got {simulator!r}")
        self.runner = runner
        self.simulator = simulator
        self._measured: Optional[int] = None

    def describe(self) -> str:
        return (f"converted Verilog of the whole autoencoder, co-simulated with {self.simulator}, "
                f"{self.lanes} MAC lanes per gate unit")

    def reconstruct(self, windows, progress: Optional[Progress] = None) -> BackendRun:
        x = np.asarray(windows, dtype=np.float64)
        t0 = time.perf_counter()
        x_int = self.fixed.quantize_windows(x)
        out = self.runner(self.fixed, x_int, simulator=self.simulator, lanes=self.lanes,
                          progress=progress)
        rec_int = np.asarray(out["reconstruction"], dtype=np.int64)
        if rec_int.shape != x.shape:
            raise BackendError(f"rtl backend: the runner returned a reconstruction of shape "
                               f"{rec_int.shape} for windows of shape {x.shape}")
        cycles = out.get("cycles_per_window")
        self._measured = None if cycles is None else int(cycles)
        return BackendRun(self.name, self.fixed.formats.output.to_float(rec_int), rec_int,
                          time.perf_counter() - t0, self.cycles_per_window(),
                          self._measured is not None)

    def cycles_per_window(self) -> Optional[int]:
        return self._measured if self._measured is not None else super().cycles_per_window()


def find_rtl_runner():
    """The co-simulation's whole-window runner, or raise :class:`BackendUnavailable`."""
    module, attr = RTL_RUNNER
    reason = None
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name in (module, module.split(".")[0]):
            reason = f"module {module} is missing"
        else:
            reason = f"importing {module} failed: {exc}"
    else:
        runner = getattr(mod, attr, None)
        if callable(runner):
            return runner
        reason = f"{module} has no {attr}()"
    raise BackendUnavailable(
        "backend 'rtl' (the co-simulated Verilog of the whole autoencoder) is not available: "
        f"the co-simulation's whole-window runner could not be loaded ({reason}). "
        "Use --backend fixed: the golden model of the same integer arithmetic.")


def _rtl_factory(model, fixed=None, **options):
    return RtlBackend(model, fixed, runner=find_rtl_runner(), **options)


class BoardBackend(FixedBackend):
    """The whole autoencoder on a board behind a serial port (docs/board.md).

    Built when asked for: opens ``port``, reads the board's IDENT and refuses a board
    whose design is not this model's (topology, formats; its lanes are the board's);
    :meth:`reconstruct` loads the weights (the rtl backend's memory image) and sends
    the windows one after the other.  It must equal ``fixed`` bit for bit.

    Parameters
    ----------
    port : str
        Serial port of the board (a pseudo-terminal for the simulated board).
    baud : int, optional
    timeout : float, optional
        Seconds each answer of the board may take.
    """

    name = "board"
    exact = True

    def __init__(self, model, fixed=None, *, port=None, baud=None, timeout=None, **_):
        from golden.formats import FormatError
        from hdl.autoencoder_config import AutoencoderEngineConfig
        from hdl.board_config import DEFAULT_BAUD

        from .board.driver import DEFAULT_TIMEOUT, BoardDriver, BoardError

        if not port:
            raise BackendError("board backend: give the board's serial port (--port PORT)")
        if fixed is None:
            fixed = model.quantize()
        self.port = str(port)
        self.baud = int(baud or DEFAULT_BAUD)
        try:
            self.driver = BoardDriver(self.port, self.baud, float(timeout or DEFAULT_TIMEOUT))
            payload = self.driver.identify()
            lanes = BoardDriver.lanes_of(payload)
            try:
                engine = AutoencoderEngineConfig.for_model(fixed, lanes)
            except FormatError as exc:
                raise BoardError(f"board on {self.port} runs {lanes} lanes, which this model refuses: {exc}") from None
            self.driver.attach(engine, payload)
        except BoardError as exc:
            if getattr(self, "driver", None) is not None:
                self.driver.close()
            raise BackendError(str(exc)) from None
        super().__init__(model, fixed, lanes=lanes)
        self.engine_cfg = engine

    def describe(self) -> str:
        return (f"the board on {self.port} ({self.baud} baud), {self.lanes} MAC lane(s) per gate unit, "
                "weights loaded over the serial link")

    def reconstruct(self, windows, progress: Optional[Progress] = None) -> BackendRun:
        from golden.autoencoder_memory_map import autoencoder_image

        from .board.driver import BoardError

        x = np.asarray(windows, dtype=np.float64)
        t0 = time.perf_counter()
        x_int = self.fixed.quantize_windows(x)
        try:
            self.driver.load_weights(autoencoder_image(self.fixed, self.lanes))
            t1 = time.perf_counter()
            rec_int = self.driver.reconstruct(x_int, progress)
        except BoardError as exc:
            raise BackendError(str(exc)) from None
        finally:
            self.driver.close()
        t2 = time.perf_counter()
        run = BackendRun(self.name, self.fixed.formats.output.to_float(rec_int), rec_int, t2 - t0,
                         self.cycles_per_window(), False)
        run.notes.update(weights_seconds=t1 - t0, windows_seconds=t2 - t1,
                         seconds_per_window=(t2 - t1) / max(1, len(x)))
        return run


#: name -> factory(model, fixed, **options) -> Backend
BACKENDS: Dict[str, Callable] = {
    "float": FloatBackend,
    "fixed": FixedBackend,
    "rtl": _rtl_factory,
    "board": BoardBackend,
}


def register_backend(name: str, factory: Callable) -> None:
    """Add (or replace) a backend under ``name``."""
    if not name or not isinstance(name, str):
        raise BackendError(f"backend name must be a non-empty string, got {name!r}")
    BACKENDS[name] = factory


def backend_names() -> tuple:
    return tuple(BACKENDS)


def make_backend(name: str, model, fixed=None, **options) -> Backend:
    """Build the backend ``name`` for the float ``model`` (and its quantized ``fixed``).

    Options the backend does not use are ignored (``lanes``, ``simulator``).

    Raises
    ------
    BackendError
        Unknown name or unsuitable options; :class:`BackendUnavailable` when the
        backend's machinery is absent (e.g. ``rtl`` before its runner exists).
    """
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name](model, fixed, **options)


def rtl_available() -> bool:
    """Whether ``make_backend("rtl", ...)`` would find its runner."""
    try:
        find_rtl_runner()
    except BackendUnavailable:
        return False
    return True
