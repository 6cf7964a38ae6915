"""What the framework importers (Keras files, ONNX, PyTorch) share.

:class:`Refusals` collects every reason a file cannot run on the engines (a layer, an
option and its value) so that one error lists them all, and :class:`RefusedModel` is
that error: a :class:`~lstm_chiplet.models.npz.ModelFileError` (so a ``ValueError``)
that also carries the items and what was read before the refusal, for ``lstm-chiplet
inspect`` to print.  :func:`imported_model` turns the layers an importer found into the
:class:`~lstm_chiplet.models.project.LoadedModel` every reader returns.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from golden.autoencoder import Autoencoder, AutoencoderConfig
from golden.formats import DEFAULT_FORMATS
from golden.lstm_float import LSTMWeights, ShapeError

from .npz import ModelFileError
from .project import LoadedModel


class RefusedModel(ModelFileError):
    """The file holds something the engines cannot run; ``items`` says what, one a line.

    Attributes
    ----------
    items : list of str
        Each refusal: the layer (or node), the option and its value.
    read : list of str
        What the importer read before it refused (for ``inspect``).
    """

    def __init__(self, path, items: Sequence[str], read: Sequence[str] = ()):
        self.path = str(path)
        self.items = list(items)
        self.read = list(read)
        listed = "\n  - ".join(self.items)
        super().__init__(f"{path}: refused ({len(self.items)} item{'s' if len(self.items) != 1 else ''}):"
                         f"\n  - {listed}")


class Refusals:
    """Collects refusals and notes while a file is read; :meth:`check` raises them all."""

    def __init__(self, path):
        self.path = path
        self.items: List[str] = []
        self.notes: List[str] = []
        self.read: List[str] = []

    def refuse(self, what: str) -> None:
        self.items.append(what)

    def note(self, what: str) -> None:
        self.notes.append(what)

    def check(self) -> None:
        if self.items:
            raise RefusedModel(self.path, self.items, self.read)


def imported_model(path, kind: str, layers: Sequence[LSTMWeights], dense_kernel, dense_bias,
                   encoder_layers: int, timesteps: int, names: dict, provenance: dict,
                   notes: Optional[Sequence[str]] = None) -> LoadedModel:
    """The :class:`LoadedModel` of an imported autoencoder (project default formats, no scaler).

    ``names`` maps ``(layer index, role)`` (role ``kernel``, ``recurrent`` or ``bias``)
    and ``("dense", role)`` (``kernel``, ``bias``) to where the file holds the tensor;
    they become the ``LoadedModel.names`` of the project's weight names.
    """
    layers = list(layers)
    nl = len(layers)
    if not 1 <= encoder_layers < nl:
        raise ShapeError(f"{path}: the encoder has {encoder_layers} of the {nl} LSTM layers; an "
                         "autoencoder needs at least one on each side of the repeated latent vector")
    f = layers[0].input_size
    cfg = AutoencoderConfig(f, tuple(w.hidden_size for w in layers[:encoder_layers]),
                            tuple(w.hidden_size for w in layers[encoder_layers:]), timesteps)
    try:
        model = Autoencoder(cfg, layers, np.asarray(dense_kernel, dtype=np.float64),
                            np.asarray(dense_bias, dtype=np.float64))
    except ValueError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    weight_names = {}
    roles = {"kernel": "kernel", "recurrent": "recurrent kernel", "bias": "bias"}
    for n in range(nl):
        for role, label in roles.items():
            weight_names[f"{cfg.layer_name(n)} {label}"] = names.get((n, role), "(none)")
    weight_names["dense kernel"] = names.get(("dense", "kernel"), "(none)")
    weight_names["dense bias"] = names.get(("dense", "bias"), "(none)")
    prov = dict(provenance)
    if notes:
        prov["import_notes"] = list(notes)
    return LoadedModel(model, kind, str(path), DEFAULT_FORMATS, None, None, prov, weight_names)
