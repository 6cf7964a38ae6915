"""The whole-window autoencoder engine as the device under test, and the rtl backend's runner.

:func:`run_autoencoder_windows` is what :mod:`lstm_chiplet.backends` calls for
``--backend rtl``: it converts the whole-window engine for the model's topology
(:func:`autoencoder_design`, once, cached under ``build/cosim/designs/``), writes every
weight through the write port once (:func:`golden.autoencoder_memory_map.autoencoder_image`),
streams all windows back to back, and returns the reconstruction and the measured
cycles.  The device has the single-layer engine's port names, so the host model, the
stimulus and trace files and every runner of the co-simulation serve it unchanged:

* Verilator (default): the C++ harness of :mod:`cosim.verilator`, compiled once per
  design text (cached); the run is polled so long runs report progress;
* Icarus (``simulator="icarus"``, slower): the file-driven Verilog bench of
  :mod:`cosim.icarus_file` (a window is too long for the VPI path);
* the MyHDL block itself or the VPI path, for short tests:
  :func:`autoencoder_device` with :func:`cosim.runner.simulate`.

Cycles per window are measured, not assumed: the spacing of the first input beats of
consecutive windows (the host always offers and is always ready).  To measure the last
window too, one probe beat (zeros) follows the last window and a reset drops the
partial window it starts.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .compile import converted, design_from_verilog
from .icarus_file import run_icarus_file
from .paths import build_root
from .stream import Stimulus, StreamShape, Trace
from .tools import ToolFailed
from .verilog import pack_words, unpack_words

SIMULATORS = ("verilator", "icarus")
#: Seconds between looks at a running Verilator harness (progress).
POLL_SECONDS = 0.5


def autoencoder_design(cfg, root: Path | None = None):
    """Convert an :class:`hdl.autoencoder_config.AutoencoderEngineConfig` once (cached).

    Returns a :class:`cosim.compile.Design` (``cycles_per_step`` is None: the engine
    takes F cycles per input beat; its documented figure is ``cfg.cycles_per_window``).
    """
    verilog, manifest = converted(cfg, root)
    shape = design_shape(cfg)
    return design_from_verilog(verilog, cfg.module_name, shape, None, "autoencoder", manifest, cfg)


def autoencoder_device(cfg):
    """The whole-window engine for ``cfg`` as a :class:`cosim.host.Device` (MyHDL or Verilog)."""
    from hdl.autoencoder_engine import autoencoder_engine
    from hdl.ports import top_ports

    from .host import Device

    return Device("autoencoder", cfg, autoencoder_engine, top_ports, autoencoder_design,
                  design_shape(cfg))


def design_shape(cfg) -> StreamShape:
    f, vw = cfg.features, cfg.vec_bits
    return StreamShape(f, vw, f, vw, cfg.addr_bits, cfg.weight_bits)


def check_windows(fixed_model, x_int) -> np.ndarray:
    """``x_int`` as an int64 (N, T, F) array of vec-format integers, or a clear error."""
    from golden.formats import FormatError
    from golden.lstm_float import ShapeError

    cfg = fixed_model.cfg
    x = np.asarray(x_int)
    if x.ndim != 3 or x.shape[1:] != (cfg.timesteps, cfg.features):
        raise ShapeError(f"rtl windows: expected integer windows of shape (N, {cfg.timesteps}, "
                         f"{cfg.features}), got {x.shape}")
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise FormatError(f"rtl windows: expected integers of {fixed_model.formats.input.describe()}, "
                          f"got dtype {x.dtype}")
    x = x.astype(np.int64)
    vec = fixed_model.formats.input
    if x.size and (x.min() < vec.int_min or x.max() > vec.int_max):
        raise FormatError(f"rtl windows: integers span [{x.min()}, {x.max()}], outside "
                          f"{vec.describe()}")
    return x


def window_stimulus(cfg, image, x_int, *, ready=(True,), gaps=None, probe: bool = True,
                    tail_cycles: int = 8) -> Stimulus:
    """The host's whole run: the image once, then every window's T beats back to back.

    With ``probe``, one beat of zeros follows the last window and a reset after its
    acceptance (once the last output has left) drops the window it starts: the probe's
    acceptance closes the last window's period.
    ``gaps`` (idle cycles before each beat) and ``ready`` (the out_tready pattern) add
    host slowness for tests.
    """
    n, t, f = x_int.shape
    vw = cfg.vec_bits
    beats = [(pack_words(x_int[w, s], vw), s == t - 1) for w in range(n) for s in range(t)]
    gaps = list(gaps) if gaps is not None else [0] * len(beats)
    waits, lens = [-1] * len(beats), [0] * len(beats)
    if probe:
        beats.append((0, False))
        gaps.append(0)
        waits.append(cfg.dense_wait + 8)
        lens.append(1)
    stall = max(1, len(ready) - sum(bool(r) for r in ready) + 1)
    max_cycles = (len(image) + 64 + (n + 1) * (2 * cfg.cycles_per_window + 64) * stall
                  + sum(gaps) + 1000)
    return Stimulus(tuple(image), tuple(beats), tuple(gaps), tuple(bool(r) for r in ready),
                    tuple(waits), tuple(lens), tail_cycles=tail_cycles, max_cycles=max_cycles)


def reconstruction_from_trace(trace: Trace, cfg, windows: int) -> np.ndarray:
    """The (N, T, F) vec integers of a run's output beats (checks count and tlast)."""
    t, f = cfg.timesteps, cfg.features
    outs = trace.outputs
    if len(outs) < windows * t:
        raise ToolFailed(f"{cfg.module_name}: {len(outs)} output beats for {windows} windows of "
                         f"{t} steps (status {trace.status!r} at cycle {trace.end_cycle})")
    outs = outs[:windows * t]
    lasts = [o.last for o in outs]
    want = [s == t - 1 for _ in range(windows) for s in range(t)]
    if lasts != want:
        bad = next(k for k, (a, b) in enumerate(zip(lasts, want)) if a != b)
        raise ToolFailed(f"{cfg.module_name}: out_tlast of output beat {bad} is {int(lasts[bad])}, "
                         f"expected {int(want[bad])}")
    rec = np.array([unpack_words(o.data, f, cfg.vec_bits) for o in outs], dtype=np.int64)
    return rec.reshape(windows, t, f)


def window_cycles(trace: Trace, cfg, windows: int) -> list:
    """Cycles between the first beats of consecutive windows (the probe closes the last)."""
    accepted = dict(trace.accepts)
    t = cfg.timesteps
    starts = [accepted[w * t] for w in range(windows) if w * t in accepted]
    probe = accepted.get(windows * t)
    if probe is not None:
        starts.append(probe)
    return [b - a for a, b in zip(starts, starts[1:])]


def run_stimulus(design, stim: Stimulus, simulator: str = "verilator", progress=None,
                 progress_total: int = 0, beats_per_unit: int = 1) -> Trace:
    """Run ``stim`` on ``simulator``; Verilator runs are polled to report progress."""
    if simulator == "icarus":
        trace = run_icarus_file(design, stim)
        if progress is not None:
            progress(progress_total, progress_total)
        return trace
    if simulator != "verilator":
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    from .verilator import build

    exe = build(design)
    work = build_root() / "runs"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="autoencoder-") as tmp:
        stim_path = Path(tmp) / "stimulus.txt"
        trace_path = Path(tmp) / "trace.txt"
        stim_path.write_text(stim.to_text())
        start = time.monotonic()
        with open(Path(tmp) / "harness.log", "w") as log:
            proc = subprocess.Popen([str(exe), str(stim_path), str(trace_path)], stdout=log,
                                    stderr=subprocess.STDOUT)
            try:
                done = -1
                while True:
                    try:
                        proc.wait(timeout=POLL_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if progress is not None and trace_path.is_file():
                        with open(trace_path, "rb") as fh:
                            outs = sum(1 for line in fh if line.startswith(b"out "))
                        units = min(progress_total, outs // max(1, beats_per_unit))
                        if units != done:
                            done = units
                            progress(units, progress_total)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise ToolFailed(f"{design.label}: Verilator harness failed (exit {proc.returncode}):\n"
                             + (Path(tmp) / "harness.log").read_text(errors="replace")[-4000:])
        trace = Trace.from_text(trace_path.read_text(), simulator="verilator")
    trace.wall_seconds = wall
    trace.xz_errors = None
    if progress is not None:
        progress(progress_total, progress_total)
    return trace


def run_autoencoder_windows(fixed_model, x_int, *, simulator: str = "verilator", lanes: int = 4,
                            progress=None) -> dict:
    """Reconstruct windows on the converted Verilog of the whole autoencoder.

    Parameters
    ----------
    fixed_model : golden.autoencoder.FixedAutoencoder
        Its topology and formats choose the design; its weights are the image.
    x_int : int array (N, T, F)
        Windows as vec-format integers (``FixedAutoencoder.quantize_windows``).
    simulator : {"verilator", "icarus"}
    lanes : int
        ``P`` lanes per gate unit (must divide every hidden size).
    progress : callable, optional
        ``progress(done_windows, total_windows)``.

    Returns
    -------
    dict
        ``reconstruction`` (N, T, F) int64 vec integers; ``cycles_per_window`` (the
        measured spacing of windows, int); ``window_cycles`` (per window);
        ``formula_cycles_per_window``; ``latency_cycles`` (first beat taken to the
        last output taken, per window); ``ideal_cycles_per_window``,
        ``macs_per_window`` and ``passes`` (per pass: cycles, ideal, utilisation, from
        :meth:`hdl.autoencoder_config.AutoencoderEngineConfig.cycle_table`);
        ``image_words``; ``simulated_cycles``; ``wall_seconds``; ``simulator``;
        ``module``; ``lanes``.

    Raises
    ------
    golden.formats.FormatError, golden.lstm_float.ShapeError
        Unsuitable lanes or windows (the message names the parameter).
    cosim.tools.ToolFailed, cosim.tools.MissingToolError
        The simulator is missing or the run went wrong (lost beats, timeout).
    """
    from golden.autoencoder_memory_map import autoencoder_image
    from hdl.autoencoder_config import AutoencoderEngineConfig

    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    cfg = AutoencoderEngineConfig.for_model(fixed_model, lanes)
    x = check_windows(fixed_model, x_int)
    n, t, f = x.shape
    if n == 0:
        if progress is not None:
            progress(0, 0)
        return {"reconstruction": np.zeros((0, t, f), dtype=np.int64),
                "cycles_per_window": cfg.cycles_per_window, "window_cycles": [],
                "formula_cycles_per_window": cfg.cycles_per_window, "latency_cycles": [],
                "image_words": 0, "simulated_cycles": 0, "wall_seconds": 0.0,
                "simulator": simulator, "module": cfg.module_name, "lanes": cfg.lanes}
    design = autoencoder_design(cfg)
    image = autoencoder_image(fixed_model, cfg.lanes)
    stim = window_stimulus(cfg, image, x)
    if progress is not None:
        progress(0, n)
    trace = run_stimulus(design, stim, simulator, progress, n, t)
    if trace.status != "ok":
        raise ToolFailed(f"{cfg.module_name} on {simulator}: run ended with status {trace.status!r} "
                         f"at cycle {trace.end_cycle} ({len(trace.outputs)} of {n * t} outputs)")
    if trace.violations:
        c, what = trace.violations[0]
        raise ToolFailed(f"{cfg.module_name} on {simulator}: AXI4-Stream rule broken at cycle {c}: {what}")
    if trace.xz_errors:
        raise ToolFailed(f"{cfg.module_name} on {simulator}: {trace.xz_errors} cycle(s) with X/Z on "
                         f"the outputs: {'; '.join(trace.xz_messages[:3])}")
    rec = reconstruction_from_trace(trace, cfg, n)
    periods = window_cycles(trace, cfg, n)
    accepted = dict(trace.accepts)
    outs = trace.outputs
    latency = [outs[(w + 1) * t - 1].cycle - accepted[w * t] for w in range(n)]
    measured = max(periods) if periods else None
    return {"reconstruction": rec, "cycles_per_window": measured, "window_cycles": periods,
            "formula_cycles_per_window": cfg.cycles_per_window, "latency_cycles": latency,
            "ideal_cycles_per_window": cfg.ideal_cycles, "macs_per_window": cfg.macs_per_window,
            "passes": cfg.cycle_table(),
            "image_words": len(image), "simulated_cycles": trace.end_cycle,
            "wall_seconds": trace.wall_seconds, "simulator": simulator,
            "module": cfg.module_name, "lanes": cfg.lanes}
