"""ONNX autoencoders (``torch.onnx.export`` and the like), read with the ``onnx`` package.

The graph is parsed, never handed to a runtime.  An autoencoder is recognised from it:

* one graph input of rank 3, windows ``(N, T, F)`` or time-major ``(T, N, F)``; T must be
  a fixed size in the file (N may be symbolic);
* ``LSTM`` nodes in graph order: the encoder, then the decoder.  The decoder starts at
  the first LSTM node whose input reaches back to the LSTM before it through an
  ``Expand`` or ``Tile`` (the repeated latent vector) or through that LSTM's ``Y_h``;
* one ``MatMul`` (or ``Gemm``) with a constant ``(H, F)`` weight, and an ``Add`` of a
  constant ``(F,)`` bias (or Gemm's ``C``): the dense layer at every step;
* around them only data-moving and shape ops: ``Transpose``, ``Squeeze``,
  ``Unsqueeze``, ``Slice``, ``Gather``, ``Expand``, ``Tile``, ``Reshape``, ``Concat``,
  ``Flatten``, ``Shape``, ``Constant``, ``ConstantOfShape``, ``Identity``, ``Cast``, and
  integer arithmetic on shapes only (``Mul``, ``Sub``, ``Div``, ``Equal``, ``Less``,
  ``Greater``, ``Where``, ``Max``, ``Min``: refused on floating-point data).

LSTM nodes (operator as ONNX defines it, gate order i, o, f, c): ``layout`` 0 and 1;
``direction="forward"``; ``W``, ``R`` and ``B`` constant, the two halves of ``B``
summed; peepholes ``P`` (order i, o, f) kept; ``initial_h`` / ``initial_c`` absent or
zero; ``sequence_lens`` absent or equal to T.  Refused by name: ``clip``,
``activations`` other than Sigmoid, Tanh, Tanh (and any ``activation_alpha`` /
``activation_beta``), ``input_forget=1``, ``direction`` reverse or bidirectional,
non-zero initial states, ``sequence_lens`` shorter than T, an op outside the list
above, a non-default op domain.

What was recognised is then proved: the whole graph is evaluated by a small numpy
interpreter of exactly those ops (ONNX semantics, float64; its LSTM follows the
operator's own equations and layouts, not the project's) on a seeded probe batch, and
the result must equal the recognised :class:`~golden.autoencoder.Autoencoder` to
:data:`PROBE_TOLERANCE`.  A graph that wires the same nodes some other way is refused,
not mis-read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from golden.lstm_float import LSTMWeights, ShapeError

from .imported import Refusals, RefusedModel, imported_model
from .npz import ModelFileError
from .project import LoadedModel

#: ONNX gate blocks (i, o, f, c) taken in the project's order (i, f, g = c, o).
ONNX_TO_PROJECT_GATES = (0, 2, 3, 1)
#: ONNX peephole blocks (i, o, f) taken in the project's rows (i, f, o).
ONNX_TO_PROJECT_PEEPHOLES = (0, 2, 1)
DEFAULT_ACTIVATIONS = ("Sigmoid", "Tanh", "Tanh")
GLUE_OPS = ("Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "Expand", "Tile", "Reshape",
            "Concat", "Flatten", "Shape", "Constant", "ConstantOfShape", "Identity", "Cast")
#: Integer arithmetic exporters emit to compute shapes (``expand(-1, T, -1)``); allowed
#: only where every input is an integer or boolean tensor, never on the data.
SHAPE_ARITHMETIC = ("Mul", "Sub", "Div", "Equal", "Less", "Greater", "Where", "Max", "Min")
REPEAT_OPS = ("Expand", "Tile")
DENSE_OPS = ("MatMul", "Gemm", "Add")
#: Both sides compute in float64 from the same float32 weights: only rounding differs.
PROBE_TOLERANCE = 1e-9
PROBE_SEED = 20240601


def _onnx(path):
    try:
        import onnx  # noqa: PLC0415 - optional: only ONNX files need it
        from onnx import numpy_helper  # noqa: PLC0415
    except ImportError:
        raise ModelFileError(f"{path}: reading ONNX files needs the onnx package "
                             "(pip install onnx)") from None
    return onnx, numpy_helper


# ------------------------------------------------------------------ the interpreter
def _attrs(onnx, node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def onnx_lstm(x, w, r, b=None, seq_lens=None, h0=None, c0=None, p=None, *, layout=0):
    """ONNX ``LSTM``, forward direction, default activations, no clip (float64).

    Shapes as the operator defines them: x (T, N, D) (layout 0) or (N, T, D) (layout
    1); w (1, 4H, D), r (1, 4H, H), b (1, 8H), p (1, 3H), gate order i, o, f, c.
    Returns Y (T, 1, N, H) or (N, T, 1, H), Y_h and Y_c (1, N, H) or (N, 1, H).
    """
    if layout == 1:
        x = np.swapaxes(x, 0, 1)
        h0 = None if h0 is None else np.swapaxes(h0, 0, 1)
        c0 = None if c0 is None else np.swapaxes(c0, 0, 1)
    t, n, _ = x.shape
    hs = r.shape[-1]
    bias = np.zeros(8 * hs) if b is None else b[0]
    wb, rb = bias[:4 * hs], bias[4 * hs:]
    pi, po, pf = (np.zeros(hs),) * 3 if p is None else np.split(p[0], 3)
    h = np.zeros((n, hs)) if h0 is None else h0[0]
    c = np.zeros((n, hs)) if c0 is None else c0[0]
    ys = []
    for s in range(t):
        g = x[s] @ w[0].T + h @ r[0].T + wb + rb
        gi, go, gf, gc = np.split(g, 4, axis=-1)
        i = _sigmoid(gi + pi * c)
        f = _sigmoid(gf + pf * c)
        c = f * c + i * np.tanh(gc)
        o = _sigmoid(go + po * c)
        h = o * np.tanh(c)
        ys.append(h)
    y = np.stack(ys)[:, None]                      # (T, 1, N, H)
    yh, yc = h[None], c[None]
    if layout == 1:
        return np.transpose(y, (2, 0, 1, 3)), np.swapaxes(yh, 0, 1), np.swapaxes(yc, 0, 1)
    return y, yh, yc


def _axes(a, rank):
    return [int(v) % rank for v in np.atleast_1d(a)]


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else _axes(axes, x.ndim)
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        big = np.iinfo(np.int64).max // 2
        e = None if (st > 0 and e >= big) or (st < 0 and e <= -big) else int(e)
        idx[a] = slice(int(s), e, int(st))
    return x[tuple(idx)]


def _reshape(x, shape, allowzero=0):
    shape = [int(v) for v in shape]
    if not allowzero:
        shape = [x.shape[k] if v == 0 else v for k, v in enumerate(shape)]
    return x.reshape(shape)


def _dtype(onnx, to):
    t = onnx.helper.tensor_dtype_to_np_dtype(to)
    return np.float64 if np.issubdtype(t, np.floating) else t


def run_node(onnx, node, ins: list) -> list:
    """One node of the supported op set (numpy, float64 for every float tensor)."""
    op, at = node.op_type, _attrs(onnx, node)
    x = ins[0] if ins else None
    if op == "Constant":
        return [_constant_value(onnx, at)]
    if op == "Identity":
        return [x]
    if op == "Cast":
        return [np.asarray(x).astype(_dtype(onnx, at["to"]))]
    if op == "Shape":
        shape = np.array(np.shape(x), dtype=np.int64)
        return [shape[at.get("start", 0):at.get("end", len(shape))]]
    if op == "Gather":
        return [np.take(x, np.asarray(ins[1], dtype=np.int64), axis=at.get("axis", 0))]
    if op == "Unsqueeze":
        axes = at["axes"] if "axes" in at else ins[1]
        out_rank = np.ndim(x) + len(np.atleast_1d(axes))
        y = np.asarray(x)
        for a in sorted(_axes(axes, out_rank)):
            y = np.expand_dims(y, a)
        return [y]
    if op == "Squeeze":
        axes = at.get("axes", ins[1] if len(ins) > 1 and ins[1] is not None else None)
        return [np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(_axes(axes, np.ndim(x))))]
    if op == "Concat":
        return [np.concatenate([np.atleast_1d(v) for v in ins], axis=at["axis"])]
    if op == "ConstantOfShape":
        v = at.get("value")
        fill = np.zeros(1) if v is None else onnx.numpy_helper.to_array(v).astype(
            np.float64 if onnx.numpy_helper.to_array(v).dtype.kind == "f" else np.int64)
        return [np.full([int(s) for s in ins[0]], fill.reshape(-1)[0], dtype=fill.dtype)]
    if op == "Transpose":
        return [np.transpose(x, at.get("perm"))]
    if op == "Slice":
        if "starts" in at:
            return [_slice(x, at["starts"], at["ends"], at.get("axes"))]
        rest = [None if v is None else [int(u) for u in v] for v in ins[1:]] + [None] * 4
        return [_slice(x, rest[0], rest[1], rest[2], rest[3])]
    if op == "Expand":
        return [np.broadcast_to(x, np.broadcast_shapes(np.shape(x), tuple(int(s) for s in ins[1]))).copy()]
    if op == "Tile":
        return [np.tile(x, [int(v) for v in ins[1]])]
    if op == "Reshape":
        return [_reshape(np.asarray(x), ins[1], at.get("allowzero", 0))]
    if op == "Flatten":
        a = at.get("axis", 1) % max(1, np.ndim(x))
        return [np.reshape(x, (int(np.prod(np.shape(x)[:a])), -1))]
    if op in SHAPE_ARITHMETIC:
        fn = {"Mul": np.multiply, "Sub": np.subtract, "Equal": np.equal, "Less": np.less,
              "Greater": np.greater, "Max": np.maximum, "Min": np.minimum,
              "Div": lambda a, b: np.trunc(np.divide(a, b)).astype(np.result_type(a, b))}.get(op)
        if op == "Where":
            return [np.where(x, ins[1], ins[2])]
        return [fn(x, ins[1])]
    if op == "MatMul":
        return [np.matmul(x, ins[1])]
    if op == "Add":
        return [np.add(x, ins[1])]
    if op == "Gemm":
        a = x.T if at.get("transA", 0) else x
        b = ins[1].T if at.get("transB", 0) else ins[1]
        y = at.get("alpha", 1.0) * (a @ b)
        if len(ins) > 2 and ins[2] is not None:
            y = y + at.get("beta", 1.0) * ins[2]
        return [y]
    if op == "LSTM":
        args = ins + [None] * (8 - len(ins))
        return list(onnx_lstm(*args[:3], args[3], args[4], args[5], args[6], args[7],
                              layout=at.get("layout", 0)))
    raise ModelFileError(f"op {op} is not supported")           # the checks refuse it first


def _constant_value(onnx, at: dict) -> np.ndarray:
    if "value" in at:
        a = onnx.numpy_helper.to_array(at["value"])
    else:
        key = next(iter(at))
        a = np.asarray(at[key])
    return a.astype(np.float64) if a.dtype.kind == "f" else a


class GraphEvaluator:
    """Evaluates an ONNX graph of the supported ops in numpy (``values`` by tensor name)."""

    def __init__(self, onnx, graph):
        self.onnx = onnx
        self.graph = graph
        self.initial: Dict[str, np.ndarray] = {}
        for t in graph.initializer:
            a = onnx.numpy_helper.to_array(t)
            self.initial[t.name] = a.astype(np.float64) if a.dtype.kind == "f" else a

    def run(self, feeds: dict) -> dict:
        values = dict(self.initial)
        values.update(feeds)
        values[""] = None
        for node in self.graph.node:
            ins = [values[n] if n else None for n in node.input]
            while ins and ins[-1] is None:
                ins.pop()
            for name, v in zip(node.output, run_node(self.onnx, node, ins)):
                values[name] = v
        return values

    def constants(self) -> dict:
        """Every tensor computable without the graph input (initializers, folded nodes)."""
        values = dict(self.initial)
        values[""] = None
        for node in self.graph.node:
            if all(n in values for n in node.input if n) and node.op_type not in ("LSTM", "Shape"):
                ins = [values[n] if n else None for n in node.input]
                while ins and ins[-1] is None:
                    ins.pop()
                try:
                    outs = run_node(self.onnx, node, ins)
                except Exception:  # noqa: BLE001 - a node that cannot fold is simply not constant
                    continue
                for name, v in zip(node.output, outs):
                    values[name] = v
        values.pop("")
        return values


# ------------------------------------------------------------------ recognition
def _producers(graph) -> dict:
    return {out: node for node in graph.node for out in node.output}


def _upstream(producers, name, stop) -> tuple:
    """(ops on the way, LSTM outputs reached) walking back from tensor ``name``; the walk
    stops at LSTM nodes (``stop``) and graph inputs."""
    ops, reached, todo, seen = set(), set(), [name], set()
    while todo:
        t = todo.pop()
        if t in seen or not t:
            continue
        seen.add(t)
        node = producers.get(t)
        if node is None:
            continue
        if node.op_type in stop:
            reached.add((node.name or node.output[0], list(node.output).index(t)))
            continue
        ops.add(node.op_type)
        todo.extend(node.input)
    return ops, reached


def _check_lstm_node(r: Refusals, onnx, node, consts: dict) -> None:
    at = _attrs(onnx, node)
    label = f"LSTM node {node.name or node.output[0]!r}"
    direction = at.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    if direction != "forward":
        r.refuse(f"{label}: direction={direction!r} (the engines run forward LSTM layers only)")
    acts = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in at.get("activations", ()))
    if acts and acts != DEFAULT_ACTIVATIONS * (len(acts) // 3):
        r.refuse(f"{label}: activations={list(acts)} (the engines run Sigmoid, Tanh, Tanh)")
    for key in ("activation_alpha", "activation_beta"):
        if key in at:
            r.refuse(f"{label}: {key}={list(at[key])} (activations take no parameters in the engines)")
    if "clip" in at:
        r.refuse(f"{label}: clip={at['clip']} (the engines do not clip the cell input)")
    if at.get("input_forget", 0):
        r.refuse(f"{label}: input_forget={at['input_forget']} (coupled input and forget gates "
                 "are not implemented)")
    if at.get("layout", 0) not in (0, 1):
        r.refuse(f"{label}: layout={at['layout']} (ONNX defines 0 and 1)")
    known = {"direction", "activations", "activation_alpha", "activation_beta", "clip",
             "input_forget", "layout", "hidden_size"}
    for key in at:
        if key not in known:
            r.refuse(f"{label}: attribute {key}={at[key]!r} is unknown to this reader")
    for k, role in ((1, "W"), (2, "R"), (3, "B"), (7, "P")):
        name = node.input[k] if len(node.input) > k else ""
        if name and name not in consts:
            r.refuse(f"{label}: input {role} ({name!r}) is computed from the graph input; weights "
                     "must be constants")


def _layer_weights(path, node, consts) -> tuple:
    w, rr = consts[node.input[1]], consts[node.input[2]]
    if w.ndim != 3 or w.shape[0] != 1 or rr.ndim != 3 or rr.shape[1] != 4 * rr.shape[2]:
        raise ShapeError(f"{path}: LSTM node {node.name!r}: W {w.shape} / R {rr.shape}; expected "
                         "(1, 4H, D) and (1, 4H, H)")
    hs = rr.shape[2]
    b = consts.get(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    p = consts.get(node.input[7]) if len(node.input) > 7 and node.input[7] else None
    gates = lambda a: np.concatenate([np.split(a, 4)[g] for g in ONNX_TO_PROJECT_GATES])  # noqa: E731
    bias = np.zeros(4 * hs) if b is None else b[0, :4 * hs] + b[0, 4 * hs:]
    peep = None
    if p is not None and np.any(p):
        blocks = np.split(p[0], 3)
        peep = np.stack([blocks[g] for g in ONNX_TO_PROJECT_PEEPHOLES])
    weights = LSTMWeights(gates(w[0]).T.copy(), gates(rr[0]).T.copy(), gates(bias), peep)
    names = {"kernel": f"{node.input[1]}[W]", "recurrent": f"{node.input[2]}[R]",
             "bias": f"{node.input[3]}[B]" if b is not None else "(none)"}
    return weights, names


def _dense(path, onnx, graph, consts, r: Refusals):
    """(kernel (H, F), bias (F,), names) of the graph's one dense layer."""
    mats = [n for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    if len(mats) != 1:
        raise ModelFileError(f"{path}: {len(mats)} MatMul/Gemm nodes ("
                             f"{', '.join(n.name or n.output[0] for n in mats) or 'none'}); the "
                             "autoencoder has one dense layer")
    m = mats[0]
    at = _attrs(onnx, m)
    if m.input[1] not in consts:
        raise ModelFileError(f"{path}: {m.op_type} node {m.name!r}: its weight {m.input[1]!r} is "
                             "not a constant")
    k = consts[m.input[1]]
    if m.op_type == "Gemm":
        if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0:
            r.refuse(f"Gemm node {m.name!r}: transA={at.get('transA', 0)}, alpha={at.get('alpha', 1.0)} "
                     "(a dense layer is x @ W + b)")
        if at.get("transB", 0):
            k = k.T
    adds = [n for n in graph.node if n.op_type == "Add"]
    names = {("dense", "kernel"): m.input[1]}
    bias, bias_name = None, None
    if m.op_type == "Gemm" and len(m.input) > 2 and m.input[2]:
        bias, bias_name = consts.get(m.input[2]) * at.get("beta", 1.0), m.input[2]
    for a in adds:
        if m.output[0] in a.input:
            other = [n for n in a.input if n != m.output[0]][0]
            if other not in consts:
                raise ModelFileError(f"{path}: Add node {a.name!r} adds {other!r}, which is not a "
                                     "constant bias")
            bias = consts[other] if bias is None else bias + consts[other]
            bias_name = other
        else:
            r.refuse(f"Add node {a.name!r}: does not add the dense layer's bias (only the dense "
                     "layer adds)")
    if bias is not None:
        names[("dense", "bias")] = bias_name
    return np.asarray(k, dtype=np.float64), bias, names


def load_onnx_file(path) -> LoadedModel:
    """Read an ONNX autoencoder (see the module docstring)."""
    path = Path(path)
    onnx, _ = _onnx(path)
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise ModelFileError(f"{path}: not an ONNX model ({exc})") from None
    graph = proto.graph
    r = Refusals(path)
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            r.refuse(f"node {node.name!r}: op {node.domain}.{node.op_type} (a custom domain)")
        elif node.op_type not in GLUE_OPS + DENSE_OPS + SHAPE_ARITHMETIC + ("LSTM",):
            r.refuse(f"node {node.name!r}: op {node.op_type} is not part of the autoencoder pattern "
                     f"(LSTM, {', '.join(DENSE_OPS)}, {', '.join(GLUE_OPS)}, and on shapes only "
                     f"{', '.join(SHAPE_ARITHMETIC)})")
    init = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelFileError(f"{path}: the graph has {len(inputs)} inputs and {len(graph.output)} "
                             "outputs; an autoencoder has one of each (the windows and their "
                             "reconstruction)")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 3:
        raise ModelFileError(f"{path}: graph input {inputs[0].name!r} has rank {len(dims)}; "
                             "expected windows (N, T, F)")
    r.check()
    ev = GraphEvaluator(onnx, graph)
    consts = ev.constants()
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    if len(lstms) < 2:
        raise ModelFileError(f"{path}: {len(lstms)} LSTM node(s); an autoencoder has an encoder "
                             "and a decoder")
    for node in lstms:
        _check_lstm_node(r, onnx, node, consts)
    r.check()
    producers = _producers(graph)
    split = None
    for k in range(1, len(lstms)):
        ops, reached = _upstream(producers, lstms[k].input[0], ("LSTM",))
        prev = lstms[k - 1].name or lstms[k - 1].output[0]
        if {name for name, _ in reached} != {prev}:
            raise ModelFileError(f"{path}: LSTM node {lstms[k].name!r} reads "
                                 f"{sorted(reached) or 'the graph input'}, not the LSTM before it "
                                 f"({prev!r}) alone; only a chain of layers is an autoencoder")
        if ops & set(REPEAT_OPS) or any(i == 1 for _, i in reached):
            if split is not None:
                raise ModelFileError(f"{path}: the latent vector is repeated twice (before LSTM "
                                     f"nodes {lstms[split].name!r} and {lstms[k].name!r})")
            split = k
    if split is None:
        raise ModelFileError(f"{path}: found no repeated latent vector (an Expand or Tile between "
                             "two LSTM nodes); cannot tell the encoder from the decoder")
    layers, names = [], {}
    for n, node in enumerate(lstms):
        w, nm = _layer_weights(path, node, consts)
        layers.append(w)
        names.update({(n, role): v for role, v in nm.items()})
    dk, db, dn = _dense(path, onnx, graph, consts, r)
    r.check()
    names.update(dn)
    f = layers[0].input_size
    db = np.zeros(f) if db is None else np.asarray(db, dtype=np.float64).reshape(-1)
    # which axis is time: the one not symbolic, or try both when both are fixed
    layouts = [lay for lay, t in (("batch-major", dims[1]), ("time-major", dims[0])) if t]
    if not layouts:
        raise ModelFileError(f"{path}: graph input {inputs[0].name!r} has no fixed time axis "
                             f"(shape {dims}); export with a fixed T")
    read = [f"LSTM nodes: {', '.join(repr(n.name) for n in lstms)}; decoder from "
            f"{lstms[split].name!r}"]
    last_err = None
    for lay in layouts:
        t = dims[1] if lay == "batch-major" else dims[0]
        loaded = imported_model(path, "onnx", layers, dk, db, split, int(t), names,
                                {"imported_from": f"onnx graph ({lay} input)"})
        err = _probe(path, ev, inputs[0].name, graph.output[0].name, loaded, dims, lay, lstms, r)
        if err is None:
            return loaded
        last_err = err
    raise RefusedModel(path, r.items or [last_err], read)


def _probe(path, ev: GraphEvaluator, in_name, out_name, loaded, dims, layout, lstms,
           r: Refusals) -> Optional[str]:
    """None when the graph computes ``loaded.model`` on a probe batch; else the reason."""
    cfg = loaded.cfg
    n = (dims[0] if layout == "batch-major" else dims[1]) or 2
    x = np.random.default_rng(PROBE_SEED).uniform(0.0, 1.0, (n, cfg.timesteps, cfg.features))
    feed = x if layout == "batch-major" else np.swapaxes(x, 0, 1)
    try:
        values = ev.run({in_name: feed})
    except (ValueError, IndexError, KeyError) as exc:
        return f"the graph cannot run on {layout} windows {feed.shape} ({exc})"
    for node in lstms:
        label = f"LSTM node {node.name or node.output[0]!r}"
        for k, role in ((5, "initial_h"), (6, "initial_c")):
            if len(node.input) > k and node.input[k]:
                v = values[node.input[k]]
                if np.any(v):
                    r.refuse(f"{label}: {role} ({node.input[k]!r}) is not zero (max |value| "
                             f"{float(np.max(np.abs(v))):g}); the engines start from zero states")
        if len(node.input) > 4 and node.input[4]:
            lens = np.asarray(values[node.input[4]])
            t_here = values[node.input[0]].shape[1 if _attrs(ev.onnx, node).get("layout", 0) else 0]
            if np.any(lens != t_here):
                r.refuse(f"{label}: sequence_lens ({node.input[4]!r}) = {sorted(set(lens.tolist()))}, "
                         f"not the {t_here} steps of every window")
    for node in ev.graph.node:
        if node.op_type in SHAPE_ARITHMETIC:
            kinds = {np.asarray(values[n]).dtype.kind for n in node.input if n}
            if kinds - {"i", "u", "b"}:
                r.refuse(f"node {node.name!r}: op {node.op_type} on floating-point data (allowed "
                         "only in shape computations)")
    if r.items:
        return r.items[0]
    y = np.asarray(values[out_name])
    want = loaded.model.reconstruct_float(x)
    if layout == "time-major":
        want = np.swapaxes(want, 0, 1)
    if y.shape != want.shape:
        return f"the graph output has shape {y.shape}, the recognised autoencoder {want.shape}"
    err = float(np.max(np.abs(y - want)))
    if err > PROBE_TOLERANCE:
        return (f"the graph does not compute the recognised autoencoder (max |difference| {err:.3g} "
                f"on a probe batch, {layout} input): the ops around the LSTM nodes are not the "
                "autoencoder pattern")
    return None


def lstm_nodes(path) -> List[str]:
    """Names of the graph's LSTM nodes (for messages and ``inspect``)."""
    onnx, _ = _onnx(path)
    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type == "LSTM"]
