"""Keras autoencoder weights: ``np.savez(path, *model.get_weights())``.

Such a file holds only ``arr_0`` .. ``arr_{3L+1}``: per LSTM layer kernel (D, 4H),
recurrent kernel (H, 4H), bias (4H), then Dense kernel (H, F) and bias (F)
(:meth:`golden.autoencoder.Autoencoder.from_weights` checks the arrays).  The split
between encoder and decoder cannot be seen in the weights; it defaults to half of
the LSTM layers (the symmetric autoencoder) and can be given.  The file carries no
scaler: ``LoadedModel.scaler`` is ``None`` and the caller fits one on its data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np

from golden.autoencoder import REFERENCE_TIMESTEPS, Autoencoder, AutoencoderConfig
from golden.formats import DEFAULT_FORMATS, FormatError
from golden.lstm_float import ShapeError

from .npz import ModelFileError, check_numeric, read_npz
from .project import LoadedModel

KERAS_KEY = re.compile(r"^arr_(\d+)$")


def keras_from_arrays(path, arrays: dict, encoder_layers, timesteps) -> LoadedModel:
    """The model of a file whose arrays are all ``arr_<k>`` (as
    :func:`lstm_chiplet.models.store.detect_kind` found)."""
    idx = sorted(int(KERAS_KEY.match(k).group(1)) for k in arrays)
    missing = sorted(set(range(idx[-1] + 1)) - set(idx))
    if missing:
        raise ModelFileError(f"{path}: Keras get_weights() arrays must be arr_0 .. arr_{idx[-1]} "
                             f"without gaps; arr_{missing[0]} is missing")
    ordered = [check_numeric(path, f"arr_{k}", arrays[f"arr_{k}"]) for k in range(len(idx))]
    try:
        model = Autoencoder.from_weights(ordered, None, encoder_layers, timesteps)
    except ValueError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    names = {n: f"arr_{k}" for k, n in enumerate(model.cfg.weight_names())}
    return LoadedModel(model, "keras", str(path), DEFAULT_FORMATS, None, None,
                       {"imported_from": "keras get_weights() .npz"}, names)


def load_keras_npz(path, cfg: Optional[AutoencoderConfig] = None,
                   encoder_layers: Optional[int] = None,
                   timesteps: int = REFERENCE_TIMESTEPS) -> Autoencoder:
    """Load a Keras ``get_weights()`` .npz (never with pickle); see
    :meth:`golden.autoencoder.Autoencoder.from_weights`.

    Errors name the file and the array (``arr_k``).
    """
    arrays = read_npz(path)
    idx = []
    for key in arrays:
        if not (key.startswith("arr_") and key[4:].isdigit()):
            raise ShapeError(f"{path}: unexpected array {key!r}; a Keras get_weights() file "
                             "holds only arr_0, arr_1, ...")
        idx.append(int(key[4:]))
    missing = sorted(set(range(len(idx))) - set(idx))
    if missing:
        raise ShapeError(f"{path}: arrays are not numbered consecutively; missing arr_{missing[0]}")
    ordered = [check_numeric(path, f"arr_{k}", arrays[f"arr_{k}"]) for k in range(len(idx))]
    try:
        return Autoencoder.from_weights(ordered, cfg, encoder_layers, timesteps)
    except ShapeError as exc:
        raise ShapeError(f"{path}: {exc}") from None
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None


def save_keras_npz(path, model: Autoencoder) -> Path:
    """Write ``np.savez(path, *model.get_weights())`` (arr_0 .. arr_{3L+1})."""
    path = Path(path)
    with open(path, "wb") as fh:
        np.savez(fh, *model.get_weights())
    return path
