"""PyTorch autoencoder weights: a ``state_dict`` as ``.npz`` or as a ``.pt`` checkpoint.

A state dict saved as ``.npz`` keeps its own key names: per ``nn.LSTM`` module
``<prefix>.weight_ih_l<k>`` (4H, D), ``<prefix>.weight_hh_l<k>`` (4H, H),
``<prefix>.bias_ih_l<k>`` and ``<prefix>.bias_hh_l<k>`` (4H) (biases optional, summed
on import), and one final ``nn.Linear``: ``<prefix>.weight`` (F, H) and ``<prefix>.bias`` (F).  A
``.pt`` / ``.pth`` file is read with ``torch.load(weights_only=True)`` when torch is
installed, else without unpickling by :mod:`lstm_chiplet.models.torch_zip` (a bare
state dict or one under ``state_dict`` / ``model_state_dict``).

Layer order.  The weights do not show which LSTM layer feeds which, nor where the
latent vector is repeated; the module names usually do.  Each module path is read for
a part ``enc`` / ``encoder`` (``enc_a``, ``encoder2``, ``model.encoder.lstm``) or
``dec`` / ``decoder``; the encoder modules come first, then the decoder modules; within
a side the numbers in the names order them when each has its own, else the file's
order; a module with ``num_layers > 1`` gives its layers ``l0``, ``l1``, ... in turn.
When a name says neither side the order must be given: ``layers=`` of
:func:`lstm_chiplet.models.store.load_any_model`, ``--layers ENC,.../DEC,...`` on the
command line (module names; ``/`` marks the repeated latent vector), or an explicit
``encoder_layers`` with the modules in file order.  The file
carries no scaler: ``LoadedModel.scaler`` is ``None`` and the caller fits one on its
data.  :func:`pytorch_state_dict` and :func:`save_pytorch_npz` write the layout back.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from golden.autoencoder import Autoencoder, AutoencoderConfig
from golden.formats import DEFAULT_FORMATS
from golden.lstm_float import LSTMWeights, ShapeError

from .npz import ModelFileError, check_numeric
from .project import LoadedModel
from .torch_zip import NeedsTorch, read_torch_zip

TORCH_LSTM_KEY = re.compile(
    r"^(?P<prefix>.*?)\.?(?P<tensor>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
    r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
TORCH_SUFFIXES = (".pt", ".pth")


@dataclass(frozen=True)
class LayerOrder:
    """The LSTM modules of a state dict in forward order, split at the repeated latent vector.

    Attributes
    ----------
    encoder, decoder : tuple of str
        Module prefixes (``encoder.lstm``, ``dec1``, ...); a module with
        ``num_layers > 1`` contributes its layers ``l0``, ``l1``, ... in turn.
    """

    encoder: tuple
    decoder: tuple

    def describe(self) -> str:
        return ",".join(self.encoder) + "/" + ",".join(self.decoder)


def parse_layer_order(spec: str) -> LayerOrder:
    """``ENC1,ENC2,.../DEC1,DEC2,...`` (module prefixes; ``/`` is where the latent vector
    is repeated) as a :class:`LayerOrder`."""
    if isinstance(spec, LayerOrder):
        return spec
    sides = str(spec).split("/")
    parts = [tuple(n.strip() for n in side.split(",") if n.strip()) for side in sides]
    if len(sides) != 2 or not parts[0] or not parts[1]:
        raise ModelFileError(f"--layers {spec!r}: expected ENCODER_MODULES/DECODER_MODULES, each a "
                             "comma-separated list of nn.LSTM module names in forward order, e.g. "
                             "'encoder.lstm1,encoder.lstm2/decoder.lstm1,decoder.lstm2'")
    seen = parts[0] + parts[1]
    dup = sorted({n for n in seen if seen.count(n) > 1})
    if dup:
        raise ModelFileError(f"--layers {spec!r}: module(s) {', '.join(dup)} listed more than once")
    return LayerOrder(parts[0], parts[1])


_ENCODER_WORD = re.compile(r"^enc(oder)?(?![a-z])", re.IGNORECASE)
_DECODER_WORD = re.compile(r"^dec(oder)?(?![a-z])", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+)\D*$")


def _side(prefix: str) -> Optional[str]:
    """``encoder`` or ``decoder`` when one component of the module path says so (``enc``,
    ``encoder``, ``enc_a``, ``encoder2``, ``model.decoder.lstm``), else None."""
    words = prefix.split(".")
    enc = any(_ENCODER_WORD.match(w) for w in words)
    dec = any(_DECODER_WORD.match(w) for w in words)
    return None if enc == dec else ("encoder" if enc else "decoder")


def order_from_names(path, modules: Sequence[str]) -> Optional[LayerOrder]:
    """The order the module names give, or None when they do not give one.

    Every module must say its side (:func:`_side`); within a side the modules go by the
    number in their names when each has a different one (``decoder2`` after
    ``decoder1``), else in the file's order.
    """
    sides = {m: _side(m) for m in modules}
    if not modules or any(v is None for v in sides.values()):
        return None
    out = []
    for side in ("encoder", "decoder"):
        ms = [m for m in modules if sides[m] == side]
        nums = [_NUMBER.search(m) for m in ms]
        if all(nums) and len({int(n.group(1)) for n in nums}) == len(ms):
            ms = sorted(ms, key=lambda m: int(_NUMBER.search(m).group(1)))
        out.append(tuple(ms))
    if not out[0] or not out[1]:
        return None
    return LayerOrder(*out)


def _torch_layout(path, keys: Sequence[str]):
    """Group state-dict keys: ({module prefix: {layer index: {tensor: key}}} in file order,
    other keys)."""
    modules: Dict[str, Dict[int, Dict[str, str]]] = {}
    other = []
    for key in keys:
        m = TORCH_LSTM_KEY.match(key)
        if not m:
            other.append(key)
            continue
        if m.group("reverse"):
            raise ModelFileError(f"{path}: array {key!r} belongs to a bidirectional nn.LSTM; the "
                                 "autoencoder imports unidirectional layers only")
        if m.group("tensor") == "weight_hr":
            raise ModelFileError(f"{path}: array {key!r} is an LSTM projection (proj_size > 0), "
                                 "which the autoencoder does not have")
        modules.setdefault(m.group("prefix"), {}).setdefault(int(m.group("layer")), {})[m.group("tensor")] = key
    for prefix, layers in modules.items():
        ks = sorted(layers)
        if ks != list(range(len(ks))):
            raise ModelFileError(f"{path}: nn.LSTM module {prefix or '(top level)'!r} has layers "
                                 f"{ks}; expected l0 .. l{len(ks) - 1}")
    return modules, other


def _ordered_layers(path, modules: dict, encoder_layers, order: Optional[LayerOrder]):
    """[(prefix, k, tensors)] in forward order and the number of encoder layers."""
    names = list(modules)
    given = order is not None
    if order is None:
        order = order_from_names(path, names)
    if order is None:
        if encoder_layers is None:
            raise ModelFileError(
                f"{path}: the nn.LSTM module names ({', '.join(repr(n) for n in names)}) do not say "
                "which are the encoder and which the decoder (a name part 'enc'/'encoder' or "
                "'dec'/'decoder'); give the order with --layers ENCODER,.../DECODER,... "
                "(layers= of load_any_model)")
        order = LayerOrder(tuple(names), ())
    else:
        listed = order.encoder + order.decoder
        unknown = [n for n in listed if n not in modules]
        missing = [n for n in names if n not in listed]
        if unknown or missing:
            what = []
            if unknown:
                what.append(f"no nn.LSTM module {', '.join(repr(n) for n in unknown)} in the file")
            if missing:
                what.append(f"module(s) {', '.join(repr(n) for n in missing)} not placed")
            raise ModelFileError(f"{path}: --layers {order.describe()!r}: {'; '.join(what)} (the "
                                 f"file's nn.LSTM modules: {', '.join(repr(n) for n in names)})")
    seq = [(p, k, modules[p][k]) for p in order.encoder + order.decoder for k in sorted(modules[p])]
    ne = sum(len(modules[p]) for p in order.encoder)
    if encoder_layers is not None and not given:
        ne = int(encoder_layers)
    return seq, ne


def torch_from_arrays(path, arrays: dict, encoder_layers, timesteps,
                      layers: Optional[LayerOrder] = None) -> LoadedModel:
    """The model of a state dict (a dict of numpy arrays under their state-dict keys).

    The order of the LSTM layers and the encoder / decoder split come from ``layers``
    when given, else from the module names (:func:`order_from_names`); an explicit
    ``encoder_layers`` overrides the names' split.
    """
    keys = list(arrays)
    modules, other = _torch_layout(path, keys)
    if not modules:
        raise ModelFileError(f"{path}: no nn.LSTM weights ('<prefix>.weight_ih_l0', ...) found")
    weights_keys = [k for k in other if k.endswith(".weight") or k == "weight"]
    if len(weights_keys) != 1:
        listed = ", ".join(weights_keys) or "none"
        raise ModelFileError(f"{path}: expected exactly one nn.Linear output layer "
                             f"('<prefix>.weight' and '<prefix>.bias'), found weight arrays: {listed}")
    wkey = weights_keys[0]
    bkey = wkey[:-len("weight")] + "bias"
    unknown = [k for k in other if k not in (wkey, bkey)]
    if unknown:
        raise ModelFileError(f"{path}: array(s) {', '.join(repr(k) for k in unknown)} are neither "
                             "nn.LSTM weights nor the output nn.Linear; unknown layout")
    lstm_groups, ne = _ordered_layers(path, modules, encoder_layers, layers)
    layers, names = [], {}
    lstm_keys = []
    for n, (prefix, k, tensors) in enumerate(lstm_groups):
        for need in ("weight_ih", "weight_hh"):
            if need not in tensors:
                raise ModelFileError(f"{path}: nn.LSTM layer {prefix + '.' if prefix else ''}*_l{k} "
                                     f"has no {need}_l{k} array")
        t = {name: check_numeric(path, key, arrays[key]) for name, key in tensors.items()}
        wih, whh = t["weight_ih"], t["weight_hh"]
        if whh.ndim != 2 or whh.shape[0] != 4 * whh.shape[1] or whh.shape[1] == 0:
            raise ShapeError(f"{path}: array {tensors['weight_hh']!r}: expected shape (4H, H), "
                             f"got {whh.shape}")
        h = whh.shape[1]
        if wih.ndim != 2 or wih.shape[0] != 4 * h:
            raise ShapeError(f"{path}: array {tensors['weight_ih']!r}: expected shape (4H, D) = "
                             f"({4 * h}, D) to match {tensors['weight_hh']!r} {whh.shape}, got {wih.shape}")
        for b in ("bias_ih", "bias_hh"):
            if b in t and t[b].shape != (4 * h,):
                raise ShapeError(f"{path}: array {tensors[b]!r}: expected shape ({4 * h},), "
                                 f"got {t[b].shape}")
        w = LSTMWeights.from_pytorch(wih, whh, t.get("bias_ih"), t.get("bias_hh"))
        if layers and w.input_size != layers[-1].hidden_size:
            raise ShapeError(f"{path}: array {tensors['weight_ih']!r} takes {w.input_size} inputs but "
                             f"the layer before it ({lstm_keys[-1]!r}) gives {layers[-1].hidden_size}")
        layers.append(w)
        lstm_keys.append(tensors["weight_hh"])
        names_here = tensors
        lstm_names = (names_here["weight_ih"], names_here["weight_hh"],
                      "+".join(names_here[b] for b in ("bias_ih", "bias_hh") if b in names_here) or "(none)")
        names[n] = lstm_names
    dk = check_numeric(path, wkey, arrays[wkey])
    f = layers[0].input_size
    hl = layers[-1].hidden_size
    if dk.shape != (f, hl):
        raise ShapeError(f"{path}: array {wkey!r} (output nn.Linear weight): expected shape (F, H) = "
                         f"({f}, {hl}) (F from {lstm_groups[0][2]['weight_ih']!r}, H from the last "
                         f"LSTM layer), got {dk.shape}")
    if bkey in arrays:
        db = check_numeric(path, bkey, arrays[bkey])
        if db.shape != (f,):
            raise ShapeError(f"{path}: array {bkey!r} (output nn.Linear bias): expected shape ({f},), "
                             f"got {db.shape}")
    else:
        db = np.zeros(f)
    nl = len(layers)
    if not 1 <= ne < nl:
        raise ShapeError(f"{path}: encoder_layers must be in 1..{nl - 1} for {nl} LSTM layers, "
                         f"got {ne!r}")
    cfg = AutoencoderConfig(f, tuple(w.hidden_size for w in layers[:ne]),
                            tuple(w.hidden_size for w in layers[ne:]), timesteps)
    model = Autoencoder(cfg, layers, dk.T.copy(), db)
    weight_names = {}
    for n in range(nl):
        layer = cfg.layer_name(n)
        weight_names.update({f"{layer} kernel": names[n][0], f"{layer} recurrent kernel": names[n][1],
                             f"{layer} bias": names[n][2]})
    weight_names.update({"dense kernel": wkey, "dense bias": bkey if bkey in arrays else "(none)"})
    return LoadedModel(model, "pytorch", str(path), DEFAULT_FORMATS, None, None,
                       {"imported_from": "pytorch state dict"}, weight_names)


def read_torch(path: Path) -> dict:
    """A PyTorch checkpoint as a dict of numpy arrays.

    With torch installed: ``torch.load(weights_only=True)``.  Without it, a zip
    checkpoint holding only tensors, numbers, strings and dicts is read by
    :func:`lstm_chiplet.models.torch_zip.read_torch_zip`, which never unpickles; any
    other checkpoint needs torch, and the message says so.
    """
    try:
        import torch  # noqa: PLC0415 - optional, heavy
    except ImportError:
        torch = None
    if torch is None:
        try:
            obj = read_torch_zip(path)
        except NeedsTorch as exc:
            raise ModelFileError(f"{path}: is a PyTorch checkpoint that needs torch to read "
                                 f"({str(exc).replace(str(path) + ': ', '')}), which is not installed. "
                                 "Install torch, or export the state dict to .npz: "
                                 "np.savez(out, **{k: v.cpu().numpy() for k, v in "
                                 "model.state_dict().items()})") from None
        return _state_dict_arrays(path, obj)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (UnpicklingError, RuntimeError, ...)
        raise ModelFileError(f"{path}: torch.load(weights_only=True) refused the file ({exc})") from None
    return _state_dict_arrays(path, obj)


def _state_dict_arrays(path, obj) -> dict:
    """The tensors of a state dict (bare, or under ``state_dict`` / ``model_state_dict``)
    as numpy arrays."""
    for key in ("state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path}: holds a {type(obj).__name__}, expected a state dict (a dict "
                             "of tensors from model.state_dict())")
    out = {}
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            out[str(k)] = v
        elif hasattr(v, "detach"):
            out[str(k)] = v.detach().cpu().numpy()
        else:
            raise ModelFileError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
    return out


def is_torch_zip(path: Path) -> bool:
    """Whether ``path`` is a zip written by ``torch.save`` (whatever its suffix)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def pytorch_state_dict(model: Autoencoder, encoder_prefix: str = "encoder",
                       decoder_prefix: str = "decoder", output_prefix: str = "output") -> dict:
    """The model as a PyTorch-style state dict of numpy arrays.

    One single-layer ``nn.LSTM`` module per layer, named ``<encoder_prefix><k>`` and
    ``<decoder_prefix><k>`` (k from 1), then ``<output_prefix>.weight`` (F, H) and
    ``.bias``.  The whole bias goes to ``bias_ih``; ``bias_hh`` is zero.
    """
    out = {}
    ne = len(model.cfg.encoder_sizes)
    for n, w in enumerate(model.layers):
        prefix = f"{encoder_prefix}{n + 1}" if n < ne else f"{decoder_prefix}{n - ne + 1}"
        for name, a in w.to_pytorch().items():
            out[f"{prefix}.{name}_l0"] = a
    out[f"{output_prefix}.weight"] = model.dense_kernel.T.copy()
    out[f"{output_prefix}.bias"] = model.dense_bias.copy()
    return out


def save_pytorch_npz(path, model: Autoencoder, **prefixes) -> Path:
    """Write :func:`pytorch_state_dict` as an .npz (keys are the state-dict names)."""
    path = Path(path)
    with open(path, "wb") as fh:
        np.savez(fh, **pytorch_state_dict(model, **prefixes))
    return path
