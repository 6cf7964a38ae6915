"""LSTM layer weights in a file of their own: saving, loading and quantizing.

Layout written by :func:`save_layers` (all plain numeric or unicode arrays, read back
through :mod:`lstm_chiplet.models.npz`, never with pickle)::

    schema              "lstm-chiplet-layers/1"
    layer<n>_kernel     (D, 4H)      Keras layout, gate order i, f, g, o
    layer<n>_recurrent  (H, 4H)
    layer<n>_bias       (4H,)
    layer<n>_peephole   (3, H)       only for layers with peephole connections
    formats             JSON of LSTMFormats.to_dict(), when given
    <name>              any extra arrays (e.g. a dense output layer, scaler limits)

:func:`quantize_layers` quantizes float layers with fit checks or an automatic weight
format; :func:`load_fixed_layers` reads a layer file and quantizes it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from golden.formats import DEFAULT_FORMATS, FormatError, LSTMFormats, weight_format_for
from golden.lstm_fixed import FixedLSTMWeights
from golden.lstm_float import LSTMWeights, ShapeError

from .npz import ModelFileError, check_numeric, lstm_weights_from_arrays, read_npz

SCHEMA = "lstm-chiplet-layers/1"
LAYER_TENSORS = ("kernel", "recurrent", "bias", "peephole")
_LAYER_KEY = re.compile(r"^layer(\d+)_(kernel|recurrent|bias|peephole)$")
_RESERVED = ("schema", "formats")


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
