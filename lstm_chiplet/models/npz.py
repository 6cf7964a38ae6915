"""Reading .npz archives of model weights safely: never with pickle, every problem named.

Every file is opened with ``numpy.load(..., allow_pickle=False)``: an archive member
that needs pickle (an object array) is refused, never executed.  Every problem is
reported as :class:`ModelFileError` (a :class:`~golden.formats.FormatError`, so a
``ValueError``) or :class:`~golden.lstm_float.ShapeError` whose message starts with the
file and names the array and what is wrong with it.

These are the primitives every model reader builds on: :func:`read_npz` (validated
dict of arrays), :func:`check_numeric` (one array as float64) and
:func:`lstm_weights_from_arrays` (one layer from three named arrays, with shape, gate
count and finiteness checks).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from golden.formats import FormatError
from golden.lstm_float import LSTMWeights, ShapeError


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
