"""The work of ``detect`` over many inputs, cut into tasks a Dask worker can run.

A *partition* is one station of one file: the windows :func:`make_windows` cuts from
that station's gap-free runs (so no window crosses a station or a gap, as in a
single-file run), scaled with the model's scaler exactly as ``detect`` scales one
file.  A partition is scored in *chunks* of at most ``chunk_windows`` windows (one task
each), so two workers share even a single long station; a chunk's scores do not
depend on the chunking (the fixed-point kernels are integer-exact window by window).

Every function here is a plain function of picklable arguments and results, run the
same way in this process (``--workers 1``) and on a worker; each worker process builds
the backends once (:func:`worker_backends`) and reuses them for every chunk.
"""

from __future__ import annotations

import contextlib
import glob
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

#: Windows per task for the fixed and float backends: large enough that scheduling
#: costs little against the work (about 2,000 windows/s per core on the reference model).
CHUNK_WINDOWS = 4096
#: Windows per task when the rtl backend runs (about 14 windows/s per core on Verilator).
RTL_CHUNK_WINDOWS = 128
#: What a glob or a folder matches.
CSV_PATTERN = "*.csv"


class PartitionError(ValueError):
    """A file or one station of it cannot be scored; names both (station None: the file)."""

    def __init__(self, file: str, station: Optional[str], reason: str):
        super().__init__(file, station, reason)
        self.file, self.station, self.reason = str(file), station, str(reason)

    def __str__(self) -> str:
        where = f"file {self.file}" + (f", station {self.station}" if self.station else
                                       " (every station)")
        return f"{where}: {self.reason}"


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def expand_inputs(items) -> Tuple[List[Path], bool]:
    """The CSV files ``items`` name (files, globs, folders), and whether they are many.

    A folder stands for its ``*.csv`` files, a glob for its matches (both sorted);
    duplicates are dropped.  "Many" is anything but one plain file: a single file
    keeps the single-process path of ``detect``.

    Raises
    ------
    ValueError
        A path that does not exist, a glob or a folder matching no CSV.
    """
    files: List[Path] = []
    many = len(items) > 1
    for item in items:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            found = sorted(q for q in p.glob(CSV_PATTERN) if q.is_file())
            if not found:
                raise ValueError(f"--csv {text}: the folder holds no {CSV_PATTERN} file")
            files += found
            many = True
        elif p.is_file():
            files.append(p)
        elif _is_pattern(text):
            found = sorted(Path(q) for q in glob.glob(text) if Path(q).is_file())
            if not found:
                raise ValueError(f"--csv {text}: the pattern matches no file")
            files += found
            many = True
        else:
            raise ValueError(f"CSV file {text} not found")
    seen, unique = set(), []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, many


# --------------------------------------------------------------------------
# What a worker needs
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSpec:
    """The model and backends a worker builds (once per process, :func:`worker_backends`).

    ``model`` None is the shipped model; ``layers`` the PyTorch layer order (``--layers``).
    ``stamp`` (size and modification time of the file) makes a changed file a new model.
    """

    model: Optional[str]
    backends: Tuple[str, ...] = ("float", "fixed")
    lanes: int = 4
    simulator: str = "verilator"
    layers: Optional[str] = None
    stamp: Tuple[int, int] = (0, 0)

    @classmethod
    def make(cls, model, backends, lanes, simulator, layers=None) -> "ModelSpec":
        from ..detect import DEFAULT_MODEL
        path = Path(model) if model is not None else DEFAULT_MODEL
        st = path.stat() if path.is_file() else None
        return cls(None if model is None else str(Path(model).resolve()), tuple(backends),
                   int(lanes), simulator, layers, (st.st_size, st.st_mtime_ns) if st else (0, 0))


@dataclass(frozen=True)
class DataSpec:
    """How a file becomes windows: ``fmt`` (None: detected), ``features``, ``stride``."""

    fmt: Optional[str] = None
    features: Optional[Tuple[str, ...]] = None
    stride: int = 1


@dataclass
class WorkerModel:
    loaded: object                  # lstm_chiplet.models.project.LoadedModel
    fixed: object                   # golden.autoencoder.FixedAutoencoder
    backends: Dict[str, object]     # name -> lstm_chiplet.backends.Backend


_WORKER_MODELS: Dict[ModelSpec, WorkerModel] = {}


def worker_backends(spec: ModelSpec) -> WorkerModel:
    """The model and its backends in this process, built on first use and kept."""
    got = _WORKER_MODELS.get(spec)
    if got is not None:
        return got
    from .. import backends as bk
    from ..detect import load_model
    ctx = contextlib.nullcontext()
    if spec.layers is not None:
        from ..models.store import layer_order
        ctx = layer_order(spec.layers)
    with ctx:
        lm = load_model(None if spec.model is None else Path(spec.model))
    fixed = lm.fixed()
    built = {name: bk.make_backend(name, lm.model, fixed, lanes=spec.lanes,
                                   simulator=spec.simulator) for name in spec.backends}
    if "rtl" in built and spec.simulator == "verilator":
        build_rtl_once(fixed, spec.lanes)
    got = _WORKER_MODELS[spec] = WorkerModel(lm, fixed, built)
    return got


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on ``path`` (created) across processes, held inside the block."""
    import fcntl
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_rtl_once(fixed, lanes: int) -> Path:
    """Build (or find in the cache) the Verilator model of the whole-window design.

    The co-simulation cache already publishes a finished build atomically; the lock
    makes the other workers wait for the first one's build instead of compiling the
    same design beside it (minutes of CPU on a 2-core machine).
    """
    from cosim.autoencoder import autoencoder_design
    from cosim.paths import build_root
    from cosim.verilator import build
    from hdl.autoencoder_config import AutoencoderEngineConfig
    cfg = AutoencoderEngineConfig.for_model(fixed, lanes)
    with file_lock(build_root() / "locks" / f"verilator-{cfg.module_name}.lock"):
        return build(autoencoder_design(cfg))


# --------------------------------------------------------------------------
# Loading a file into partitions
# --------------------------------------------------------------------------

@dataclass
class Partition:
    """The scaled windows of one station of one file (time order)."""

    file: str
    station: str
    sequences: np.ndarray           # (N, T, F) float64, scaled
    start: np.ndarray               # (N,) datetime64[s]
    end: np.ndarray                 # (N,) datetime64[s]


@dataclass
class FileInfo:
    """What the driver needs of a loaded file (no windows): the plan and the report."""

    file: str
    format: str
    features: Tuple[str, ...]
    windows: Dict[str, int]         # station -> windows (stations with none left out)
    no_windows: List[str]           # stations whose runs are all shorter than a window
    counts: Optional[dict]
    warnings: List[str]
    scaling: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class LoadedFile:
    info: FileInfo
    partitions: Dict[str, Partition] = field(default_factory=dict)


def load_file(path: str, data: DataSpec, spec: ModelSpec) -> LoadedFile:
    """Read ``path``, cut each station's windows, scale them with the model's scaler.

    The same steps as a single-file ``detect`` (units converted into the scaler's,
    then min-max scaled), so a partition's windows are the ones that run would score.

    Raises
    ------
    PartitionError
        The file cannot be read or scaled (station None), naming the reason.
    """
    from ..detect import _summary_counts
    from ..workload.noaa import DataError, load_windows, out_of_range_warnings
    t0, cpu0 = time.perf_counter(), cpu_clock()
    wm = worker_backends(spec)
    lm, cfg = wm.loaded, wm.loaded.model.cfg
    scaler = lm.scaler
    if scaler is None:
        raise PartitionError(path, None, f"the model {lm.path} carries no scaler; many inputs "
                             "are scored with one scaler so their scores compare: use a project "
                             "model (lstm-chiplet train or quantize writes one)")
    try:
        win = load_windows(path, data.fmt, None if data.features is None else list(data.features),
                           None, steps=cfg.timesteps, stride=data.stride)
        if tuple(scaler.features) != tuple(win.features):
            raise DataError(f"the data has the features {', '.join(win.features)}, the model's "
                            f"scaler {', '.join(scaler.features)}: give --features in the "
                            "model's order")
        win = win.in_units(scaler.units, scaler=f"the model's scaler ({lm.path})")
        warnings = list(win.summary["units"]["warnings"])
        conv = win.summary["units"]["conversions"]
        win = win.scaled(scaler)
    except DataError as exc:
        raise PartitionError(path, None, str(exc)) from None
    sc = win.summary.get("scaler", {})
    warnings += [f"{path}: {w}" for w in out_of_range_warnings(scaler.range_counts(sc))]
    scaling = "the model's min-max scaler" + ("; converted: " + ", ".join(
        f"{c['feature']} {c['from']} -> {c['to']}" for c in conv) if conv else "")
    parts, counts = {}, {}
    for station in sorted(set(win.stations.tolist())):
        keep = np.nonzero(win.stations == station)[0]       # time order within a station
        parts[station] = Partition(str(path), station, win.sequences[keep],
                                   win.times[keep, 0], win.times[keep, -1])
        counts[station] = int(keep.size)
    no_windows = sorted(s for s, v in win.summary.get("stations", {}).items() if not v["windows"])
    info = FileInfo(str(path), win.summary["format"], tuple(win.features), counts, no_windows,
                    _summary_counts(win.summary), warnings, scaling, time.perf_counter() - t0,
                    cpu_clock() - cpu0)
    return LoadedFile(info, parts)


def file_info(loaded: LoadedFile) -> FileInfo:
    """The plan of a loaded file, without its windows (what goes back to the driver)."""
    return loaded.info


def chunk_plan(info: FileInfo, chunk_windows: int) -> List[Tuple[str, int, int]]:
    """(station, first, stop) of every chunk of the file's partitions, in station order."""
    out = []
    for station in sorted(info.windows):
        n = info.windows[station]
        out += [(station, a, min(a + chunk_windows, n)) for a in range(0, n, chunk_windows)]
    return out


# --------------------------------------------------------------------------
# Scoring a chunk
# --------------------------------------------------------------------------

@dataclass
class ChunkResult:
    """The scores of windows ``[first, stop)`` of one partition on every backend."""

    file: str
    station: str
    first: int
    stop: int
    scores: Dict[str, np.ndarray]               # backend -> (n,) mse
    start: np.ndarray
    end: np.ndarray
    max_abs_fixed_float: np.ndarray             # (n,) largest |fixed - float| per window
    clamps: object                              # golden.formats.ClampCounts of fixed
    rtl_differing: Optional[List[Tuple[int, int]]] = None   # (window in partition, values)
    rtl_cycles: Optional[int] = None
    seconds: Dict[str, float] = field(default_factory=dict)
    pid: int = 0
    #: CPU time of the task: its thread and the simulator processes it waited for.
    cpu_seconds: float = 0.0


def cpu_clock() -> float:
    """CPU seconds of this thread plus the finished child processes of this process
    (the Verilator harness); a worker runs one task at a time, so a difference of two
    readings is one task's CPU time."""
    t = os.times()
    return time.thread_time() + t.children_user + t.children_system


def check_finite(part: Partition, a: int, b: int) -> None:
    x = part.sequences[a:b]
    bad = x.size - int(np.count_nonzero(np.isfinite(x)))
    if bad:
        raise PartitionError(part.file, part.station, f"{bad} NaN or infinite value(s) in "
                             f"windows {a}..{b - 1} of the station")


def score_chunk(loaded: LoadedFile, station: str, first: int, stop: int,
                spec: ModelSpec) -> ChunkResult:
    """Score windows ``[first, stop)`` of ``station`` in ``loaded`` on ``spec``'s backends.

    Raises
    ------
    PartitionError
        The windows cannot be scored (naming file and station).
    """
    from golden.autoencoder import window_scores
    cpu0 = cpu_clock()
    wm = worker_backends(spec)
    part = loaded.partitions[station]
    check_finite(part, first, stop)
    x = part.sequences[first:stop]
    runs, seconds, scores = {}, {}, {}
    try:
        for name, backend in wm.backends.items():
            runs[name] = backend.reconstruct(x)
            seconds[name] = runs[name].seconds
            scores[name] = window_scores(x, runs[name].reconstruction)
    except ValueError as exc:
        raise PartitionError(part.file, station, f"backend {name}: {exc}") from None
    diff = (np.abs(runs["fixed"].reconstruction - runs["float"].reconstruction).max(axis=(1, 2))
            if "float" in runs else np.zeros(len(x)))
    out = ChunkResult(part.file, station, first, stop, scores, part.start[first:stop],
                      part.end[first:stop], diff, wm.backends["fixed"].clamps, seconds=seconds,
                      pid=os.getpid())
    if "rtl" in runs:
        neq = runs["fixed"].reconstruction_int != runs["rtl"].reconstruction_int
        per = neq.reshape(len(x), -1).sum(axis=1)
        out.rtl_differing = [(first + int(i), int(per[i])) for i in np.nonzero(per)[0]]
        out.rtl_cycles = runs["rtl"].cycles_per_window
    out.cpu_seconds = cpu_clock() - cpu0
    return out


def noop(i: int) -> int:
    """A task that does nothing (the scheduling overhead of ``bench-scale``)."""
    return i

