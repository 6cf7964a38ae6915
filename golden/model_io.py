"""Layer weights in .npz files: saving, loading and validating, never with pickle.

Every file is opened with ``numpy.load(..., allow_pickle=False)``: an archive member
that needs pickle (an object array) is refused, never executed.  Every problem is
reported as :class:`ModelFileError` (a :class:`~golden.formats.FormatError`, so a
``ValueError``) or :class:`~golden.lstm_float.ShapeError` whose message starts with the
file and names the array and what is wrong with it.

Layout written by :func:`save_layers` (all plain numeric or unicode arrays)::

    schema              "lstm-chiplet-layers/1"
    layer<n>_kernel     (D, 4H)      Keras layout, gate order i, f, g, o
    layer<n>_recurrent  (H, 4H)
    layer<n>_bias       (4H,)
    layer<n>_peephole   (3, H)       only for layers with peephole connections
    formats             JSON of LSTMFormats.to_dict(), when given
    <name>              any extra arrays (e.g. a dense output layer, scaler limits)

Primitives for other layouts (for example Keras ``get_weights()`` saved as
``arr_0 .. arr_13``): :func:`read_npz` (validated dict of arrays),
:func:`lstm_weights_from_arrays` (one layer from three named arrays, with shape, gate
count and finiteness checks) and :func:`quantize_layers` (quantization with fit checks
or an automatic weight format).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .formats import DEFAULT_FORMATS, FormatError, LSTMFormats, weight_format_for
from .lstm_fixed import FixedLSTMWeights
from .lstm_float import LSTMWeights, ShapeError

SCHEMA = "lstm-chiplet-layers/1"
LAYER_TENSORS = ("kernel", "recurrent", "bias", "peephole")
_LAYER_KEY = re.compile(r"^layer(\d+)_(kernel|recurrent|bias|peephole)$")
_RESERVED = ("schema", "formats")


class ModelFileError(FormatError):
    """A model file is missing, is not a valid .npz archive, or holds bad arrays."""


# ------------------------------------------------------------------ reading
def read_npz(path, required=()) -> dict:
    """All arrays of an .npz archive, loaded without pickle, as a dict name -> ndarray.

    Parameters
    ----------
    path : str or Path
        The archive.
    required : iterable of str
        Names that must be present.

    Raises
    ------
    ModelFileError
        The file is missing, is not an .npz archive (including a bare .npy array or a
        pickle), a member needs pickle (object array), or a required array is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError:                        # neither zip nor .npy: numpy would unpickle it
        raise ModelFileError(f"{path}: not a valid .npz archive (neither a zip of .npy arrays nor "
                             "a .npy array; pickled data is never loaded)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"{path}: not a valid .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path}: is a single .npy array, not an .npz archive of named arrays")
    arrays = {}
    with archive:
        for name in archive.files:
            try:
                arrays[name] = archive[name]
            except ValueError:
                raise ModelFileError(f"{path}: array {name!r} is an object array that needs "
                                     "pickle to load; refused (save plain numeric arrays)") from None
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise ModelFileError(f"{path}: array {name!r} is unreadable ({e})") from None
    missing = [n for n in required if n not in arrays]
    if missing:
        raise ModelFileError(f"{path}: missing array(s) {', '.join(repr(n) for n in missing)} "
                             f"(the file holds: {', '.join(sorted(arrays)) or 'nothing'})")
    return arrays


def check_numeric(path, name: str, a: np.ndarray, finite: bool = True) -> np.ndarray:
    """``a`` as float64 if it is a real numeric array; names file and array otherwise."""
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ModelFileError(f"{path}: array {name!r} has dtype {a.dtype}, expected numbers")
    out = a.astype(np.float64)
    if finite and not np.all(np.isfinite(out)):
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        raise ModelFileError(f"{path}: array {name!r} has {bad} value(s) that are NaN or infinite")
    return out


def lstm_weights_from_arrays(path, arrays: dict, names: dict) -> LSTMWeights:
    """One LSTM layer (Keras layout) from named arrays, every problem naming file and array.

    Parameters
    ----------
    path : str or Path
        The file the arrays came from (for messages).
    arrays : dict
        Name -> ndarray, e.g. from :func:`read_npz`.
    names : dict
        Role -> array name for the roles ``kernel``, ``recurrent``, ``bias`` and
        optionally ``peephole``; e.g. ``{"kernel": "arr_0", "recurrent": "arr_1",
        "bias": "arr_2"}`` for a Keras ``get_weights()`` export.
    """
    missing = [names[r] for r in ("kernel", "recurrent", "bias") if names[r] not in arrays]
    if missing:
        raise ModelFileError(f"{path}: missing array(s) {', '.join(repr(n) for n in missing)} "
                             f"(the file holds: {', '.join(sorted(arrays)) or 'nothing'})")
    t = {role: check_numeric(path, name, arrays[name]) for role, name in names.items()
         if name is not None and name in arrays}
    k, r, b = t["kernel"], t["recurrent"], t["bias"]
    rn, kn, bn = names["recurrent"], names["kernel"], names["bias"]
    if r.ndim != 2 or r.shape[0] == 0:
        raise ShapeError(f"{path}: array {rn!r} (recurrent kernel): expected shape (H, 4H), got {r.shape}")
    h = r.shape[0]
    if r.shape[1] != 4 * h:
        gates = f"{r.shape[1] / h:g}"
        hint = " (3 blocks: a GRU layer?)" if r.shape[1] == 3 * h else ""
        raise ShapeError(f"{path}: array {rn!r} (recurrent kernel): shape {r.shape} holds {gates} "
                         f"gate blocks of H = {h}; an LSTM has 4 (i, f, g, o){hint}")
    if k.ndim != 2 or k.shape[1] != 4 * h:
        raise ShapeError(f"{path}: array {kn!r} (kernel): expected shape (D, 4H) = (D, {4 * h}) "
                         f"to match recurrent kernel {r.shape}, got {k.shape}")
    if b.shape != (4 * h,):
        raise ShapeError(f"{path}: array {bn!r} (bias): expected shape ({4 * h},), got {b.shape}")
    p = t.get("peephole")
    if p is not None and p.shape != (3, h):
        raise ShapeError(f"{path}: array {names['peephole']!r} (peephole): expected shape "
                         f"(3, {h}) (rows i, f, o), got {p.shape}")
    return LSTMWeights(k, r, b, p)


# ------------------------------------------------------------------ the layer file
@dataclass
class LayerFile:
    """What :func:`load_layers` returns.

    Attributes
    ----------
    layers : list of LSTMWeights
    extra : dict
        The file's other arrays by name.
    fmts : LSTMFormats or None
        The formats saved with the layers, if any.
    path : Path
    """

    layers: list
    extra: dict = field(default_factory=dict)
    fmts: Optional[LSTMFormats] = None
    path: Optional[Path] = None


def save_layers(path, layers, extra: Optional[dict] = None,
                fmts: Optional[LSTMFormats] = None) -> Path:
    """Write LSTM layers (and extra numeric arrays) to ``path`` exactly (no suffix added).

    Raises
    ------
    ModelFileError
        An extra array's name collides with the layer layout, or an extra is not numeric.
    """
    path = Path(path)
    out = {"schema": np.array(SCHEMA)}
    for n, w in enumerate(layers):
        if not isinstance(w, LSTMWeights):
            raise ModelFileError(f"{path}: layer {n} is a {type(w).__name__}, expected LSTMWeights")
        for name, t in w.tensors().items():
            out[f"layer{n}_{name}"] = np.asarray(t, dtype=np.float64)
    if fmts is not None:
        out["formats"] = np.array(json.dumps(fmts.to_dict(), sort_keys=True))
    for name, a in (extra or {}).items():
        if name in _RESERVED or _LAYER_KEY.match(name):
            raise ModelFileError(f"{path}: extra array name {name!r} is reserved by the layer layout")
        a = np.asarray(a)
        if a.dtype == object:
            raise ModelFileError(f"{path}: extra array {name!r} is an object array; "
                                 "only plain numeric arrays are saved (no pickle)")
        out[name] = a
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        np.savez(fh, **out)
    os.replace(tmp, path)
    return path


def load_layers(path) -> LayerFile:
    """Read a file written by :func:`save_layers`; every array is validated."""
    path = Path(path)
    arrays = read_npz(path)
    schema = arrays.get("schema")
    if schema is None or schema.shape != () or str(schema) != SCHEMA:
        found = "no 'schema' array" if schema is None else f"schema {str(schema)!r}"
        raise ModelFileError(f"{path}: {found}, expected {SCHEMA!r}: not a layer file written by "
                             "save_layers (read_npz reads any .npz)")
    indices = sorted({int(m.group(1)) for m in map(_LAYER_KEY.match, arrays) if m})
    if indices != list(range(len(indices))):
        gaps = sorted(set(range(max(indices) + 1)) - set(indices))
        raise ModelFileError(f"{path}: layers are numbered {indices}; arrays of layer(s) {gaps} "
                             "are missing")
    layers = []
    for n in indices:
        names = {role: f"layer{n}_{role}" for role in LAYER_TENSORS}
        if names["peephole"] not in arrays:
            names["peephole"] = None
        layers.append(lstm_weights_from_arrays(path, arrays, names))
    for n in range(1, len(layers)):
        if layers[n].input_size != layers[n - 1].hidden_size:
            raise ShapeError(f"{path}: array 'layer{n}_kernel' takes {layers[n].input_size} inputs "
                             f"but layer {n - 1} gives {layers[n - 1].hidden_size} (H)")
    fmts = None
    if "formats" in arrays:
        try:
            fmts = LSTMFormats.from_dict(json.loads(str(arrays["formats"])))
        except (ValueError, KeyError, TypeError) as e:
            raise ModelFileError(f"{path}: array 'formats' is not a valid formats description ({e})") from None
    extra = {}
    for name, a in arrays.items():
        if name in _RESERVED or _LAYER_KEY.match(name):
            continue
        check_numeric(path, name, a)
        extra[name] = a
    return LayerFile(layers, extra, fmts, path)


# ------------------------------------------------------------------ quantization
def quantize_layers(layers, fmts: LSTMFormats = DEFAULT_FORMATS, auto_format: bool = False,
                    source: str = "model"):
    """Quantize float layers to ``fmts.weight``; returns (fixed layers, formats, notes).

    With ``auto_format=False`` a tensor outside the weight format raises
    :class:`FormatError` naming ``source``, the layer's tensor and by how much it exceeds
    the range.  With ``auto_format=True`` the weight format is chosen by
    :func:`golden.formats.weight_format_for` over all tensors (same word size and
    rounding) and a note says which format was chosen and why.
    """
    layers = list(layers)
    notes = []
    if auto_format:
        tensors = {f"layer{n} {name}": t for n, w in enumerate(layers) for name, t in w.tensors().items()}
        chosen = weight_format_for(tensors, word_bits=fmts.weight.word_bits, base=fmts.weight)
        peak = max(float(np.max(np.abs(t))) for t in tensors.values() if np.size(t))
        if chosen != fmts.weight:
            try:
                new = LSTMFormats(fmts.vec, chosen, fmts.preact, fmts.act)
            except FormatError as e:
                raise FormatError(f"{source}: weights peak at {peak:g}, which needs {chosen.describe()}, "
                                  f"but that breaks the formats: {e}") from None
            notes.append(f"{source}: weights peak at {peak:g}; weight format chosen automatically: "
                         f"{chosen.describe()} (instead of {fmts.weight.describe()})")
            fmts = new
        else:
            notes.append(f"{source}: weights peak at {peak:g}; the weight format "
                         f"{fmts.weight.describe()} is already the best fit")
    for n, w in enumerate(layers):
        for name, t in w.tensors().items():
            fmts.weight.check_fits(t, f"{source}: array 'layer{n}_{name}'")
    fixed = [FixedLSTMWeights.from_float(w, fmts, layer=f"{source}: layer{n}")
             for n, w in enumerate(layers)]
    return fixed, fmts, notes


def load_fixed_layers(path, fmts: Optional[LSTMFormats] = None, auto_format: bool = False):
    """Load a layer file and quantize it: returns (fixed layers, formats, notes, extra).

    ``fmts`` defaults to the formats saved in the file, else the project defaults.
    """
    lf = load_layers(path)
    fmts = fmts or lf.fmts or DEFAULT_FORMATS
    fixed, fmts, notes = quantize_layers(lf.layers, fmts, auto_format, source=str(lf.path))
    return fixed, fmts, notes, lf.extra
