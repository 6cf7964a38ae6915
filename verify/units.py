"""The datapath units on their own: cases, wrapper blocks and their conversion (cached).

A *case* names one unit with its elaboration parameters, all derived from golden formats:

* :class:`RequantizeCase`: ``hdl.requantize.requantize`` from an ``x_bits``-wide input
  with ``from_frac`` fraction bits (``+ extra`` when ``extra_span`` > 0) into ``fmt``;
* :class:`ActivationCase`: ``hdl.activation_unit.activation_unit`` (sigmoid or tanh) at
  ``fmts``; with ``extra_span`` > 0 its table is that of ``preact.frac - extra_span``
  and z has ``extra`` fraction bits fewer than ``fmts.preact`` (a per-pass shift);
* :class:`CellStateCase`: ``hdl.cell_update.cell_update`` at ``fmts`` (c' is what the
  proof looks at);
* :class:`MacLaneCase`: ``hdl.mac_lane.mac_lane`` at ``fmts`` and ``columns`` terms.

:func:`unit_verilog` converts one case alone (module ``vu_<kind>_<digest>``, the
formal proofs take it); :func:`bank_verilog` converts several requantize or activation
cases side by side in one module whose input port ``x`` and output port ``y`` are the
concatenation of every case's ports (case 0 in the low bits), so that one Verilator build
runs all of them (:mod:`verify.exhaustive`).  Conversion runs in a fresh Python process
(MyHDL names and initial values are process-wide), cached under
``build/verify/units/<module>/`` by the sources of ``hdl``, ``golden`` and the two
files of ``verify`` it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.activations import SIGMOID, TANH, activate
from golden.formats import DEFAULT_FORMATS, LSTMFormats, QFormat, accumulator_bits

REPO = Path(__file__).resolve().parent.parent


def verify_root() -> Path:
    """``build/verify`` (beside ``build/cosim``; ``$LSTM_CHIPLET_BUILD`` moves both)."""
    from cosim.paths import build_root

    path = build_root().parent / "verify"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------- cases
def _per_pass(values, extra, fn):
    """``fn(values of one pass, its extra)`` for every extra present, put back in order."""
    values = np.asarray(values, dtype=np.int64)
    extra = np.asarray(extra, dtype=np.int64)
    out = np.empty_like(values)
    for e in np.unique(extra):
        sel = extra == e
        out[sel] = fn(values[sel], int(e))
    return out


@dataclass(frozen=True)
class RequantizeCase:
    """y = fmt.requantize(x, from_frac + extra), registered (latency 1) or not (0)."""

    name: str
    x_bits: int
    from_frac: int
    fmt: QFormat
    extra_span: int = 0
    registered: bool = True

    kind = "requantize"

    @property
    def latency(self) -> int:
        from hdl.config import REQUANT_LATENCY

        return REQUANT_LATENCY if self.registered else 0

    @property
    def in_bits(self) -> int:
        return self.x_bits + self.extra_bits

    @property
    def extra_bits(self) -> int:
        return self.extra_span.bit_length() if self.extra_span else 0

    @property
    def out_bits(self) -> int:
        return self.fmt.word_bits

    def golden(self, x, extra):
        return _per_pass(x, extra, lambda v, e: self.fmt.requantize(v, self.from_frac + e))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "x_bits": self.x_bits,
                "from_frac": self.from_frac, "fmt": self.fmt.to_dict(),
                "extra_span": self.extra_span, "registered": self.registered}

    @classmethod
    def from_dict(cls, d: dict) -> "RequantizeCase":
        return cls(d["name"], d["x_bits"], d["from_frac"], QFormat.from_dict(d["fmt"]),
                   d["extra_span"], d["registered"])


@dataclass(frozen=True)
class ActivationCase:
    """y = golden.activations.activate(z, function, formats of the pass with ``extra``)."""

    name: str
    function: str
    fmts: LSTMFormats
    pipelined: bool = False
    extra_span: int = 0

    kind = "activation"

    @property
    def latency(self) -> int:
        from hdl.config import activation_latency

        return activation_latency(self.pipelined)

    @property
    def extra_bits(self) -> int:
        return self.extra_span.bit_length() if self.extra_span else 0

    @property
    def in_bits(self) -> int:
        return self.fmts.preact.word_bits + self.extra_bits

    @property
    def out_bits(self) -> int:
        return self.fmts.act.word_bits

    def pass_formats(self, extra: int) -> LSTMFormats:
        """The formats of a pass whose z has ``extra`` fraction bits fewer."""
        p = self.fmts.preact
        return LSTMFormats(self.fmts.vec, self.fmts.weight,
                           QFormat(p.word_bits, p.frac_bits - extra, p.signed, p.rounding,
                                   p.overflow, p.name), self.fmts.act)

    @property
    def table_fmts(self) -> LSTMFormats:
        return self.pass_formats(self.extra_span)

    def golden(self, z, extra):
        return _per_pass(z, extra, lambda v, e: activate(v, self.function, self.pass_formats(e)))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "function": self.function,
                "fmts": self.fmts.to_dict(), "pipelined": self.pipelined,
                "extra_span": self.extra_span}

    @classmethod
    def from_dict(cls, d: dict) -> "ActivationCase":
        return cls(d["name"], d["function"], LSTMFormats.from_dict(d["fmts"]), d["pipelined"],
                   d["extra_span"])


@dataclass(frozen=True)
class CellStateCase:
    """hdl.cell_update at ``fmts`` (global formats), ``pipelined`` (the whole-window
    engine's variant: the aligned sum registered) or not."""

    name: str
    fmts: LSTMFormats
    pipelined: bool = False

    kind = "cell_update"

    @property
    def latency(self) -> int:
        from hdl.config import cell_state_latency

        return cell_state_latency(self.pipelined)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "fmts": self.fmts.to_dict(), "pipelined": self.pipelined}

    @classmethod
    def from_dict(cls, d: dict) -> "CellStateCase":
        return cls(d["name"], LSTMFormats.from_dict(d["fmts"]), bool(d.get("pipelined", False)))


@dataclass(frozen=True)
class MacLaneCase:
    """hdl.mac_lane with the accumulator of ``columns`` terms at ``fmts``."""

    name: str
    fmts: LSTMFormats
    columns: int

    kind = "mac_lane"

    @property
    def product_bits(self) -> int:
        return self.fmts.weight.word_bits + self.fmts.vec.word_bits

    @property
    def acc_bits(self) -> int:
        from hdl.config import DatapathConfig

        return DatapathConfig(self.fmts, 1, self.columns).acc_bits

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "fmts": self.fmts.to_dict(),
                "columns": self.columns}

    @classmethod
    def from_dict(cls, d: dict) -> "MacLaneCase":
        return cls(d["name"], LSTMFormats.from_dict(d["fmts"]), d["columns"])


CASE_KINDS = {c.kind: c for c in (RequantizeCase, ActivationCase, CellStateCase, MacLaneCase)}


def case_from_dict(d: dict):
    return CASE_KINDS[d["kind"]].from_dict(d)


# ------------------------------------------------- the widths the engines use
def cell_sum(fmts: LSTMFormats) -> tuple:
    """(bits, fraction bits) of the cell update's aligned sum f*c + i*g (global formats)."""
    a = fmts.act.frac_bits
    fc_frac, ig_frac = a + fmts.preact.frac_bits, 2 * a
    big = max(fc_frac, ig_frac)
    fc_bits = fmts.act.word_bits + fmts.preact.word_bits
    ig_bits = 2 * fmts.act.word_bits
    return max(fc_bits + big - fc_frac, ig_bits + big - ig_frac) + 1, big


def activation_value(fmts: LSTMFormats, extra_span: int = 0) -> tuple:
    """(bits, fraction bits) of the interpolated value the activation unit requantizes."""
    from golden.activations import activation_table

    t = activation_table(fmts)
    shift = t.shift + extra_span
    e = t.entries
    one = 1 << (t.table_frac + shift)
    y_max = max((e[k] << shift) + (e[k + 1] - e[k]) * ((1 << shift) - 1) for k in range(len(e) - 1))
    peak = max(y_max, one - e[0] * (1 << shift), 2 * y_max - one, one)
    return peak.bit_length() + 1, t.table_frac + shift


def requantize_cases(fmts: LSTMFormats = DEFAULT_FORMATS, columns: int = 70) -> tuple:
    """Every requantization of the datapath at ``fmts``, as its block sees it.

    z (the accumulator of ``columns`` terms to preact), c' (the aligned cell sum to
    preact), h' (o * tanh(c') to vec), the activation's value to act; a floor-rounding
    variant of z, and z with a per-pass shift of 0..2 more fraction bits.
    """
    acc = accumulator_bits(fmts, columns)
    cb, cf = cell_sum(fmts)
    vb, vf = activation_value(fmts)
    floor = QFormat(fmts.preact.word_bits, fmts.preact.frac_bits, rounding="floor", name="preact")
    return (
        RequantizeCase("z", acc, fmts.acc_frac, fmts.preact),
        RequantizeCase("c", cb, cf, fmts.preact),
        RequantizeCase("h", 2 * fmts.act.word_bits, 2 * fmts.act.frac_bits, fmts.vec),
        RequantizeCase("act", vb, vf, fmts.act),
        RequantizeCase("z_floor", acc, fmts.acc_frac, floor),
        RequantizeCase("z_moving", acc, fmts.acc_frac, fmts.preact, extra_span=2),
        RequantizeCase("h_comb", 2 * fmts.act.word_bits, 2 * fmts.act.frac_bits, fmts.vec,
                       registered=False),
    )


#: The non-default formats of the exhaustive activation check: a 12-bit datapath
#: (Q4.8 preact, Q2.10 act) and floor rounding of the output.
SMALL_FORMATS = LSTMFormats(QFormat(12, 10, name="vec"), QFormat(12, 8, name="weight"),
                            QFormat(14, 8, name="preact"),
                            QFormat(12, 10, rounding="floor", name="act"))


def activation_cases() -> tuple:
    """Sigmoid and tanh at the defaults, at :data:`SMALL_FORMATS` (pipelined), and at the
    defaults with a per-pass shift of 0..2 fraction bits of z."""
    cases = []
    for fn in (SIGMOID, TANH):
        cases.append(ActivationCase(f"{fn}", fn, DEFAULT_FORMATS))
        cases.append(ActivationCase(f"{fn}_small", fn, SMALL_FORMATS, pipelined=True))
        cases.append(ActivationCase(f"{fn}_moving", fn, DEFAULT_FORMATS, extra_span=2))
    return tuple(cases)


# -------------------------------------------------------------- conversion
def _digest(*parts) -> str:
    h = hashlib.sha1()
    from cosim.compile import source_digest

    h.update(source_digest("hdl", "golden").encode())
    for own in ("units.py", "unit_blocks.py"):       # what the conversion runs of verify/
        h.update((REPO / "verify" / own).read_bytes())
    for p in parts:
        h.update(json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:10]


def _convert(top: str, payload, module: str) -> Path:
    from cosim.paths import private_dir, publish_dir

    final = verify_root() / "units" / module
    verilog = final / f"{module}.v"
    if verilog.is_file():
        return verilog
    tmp = private_dir(final.parent, module)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONHASHSEED"] = "0"
    code = "import sys; from verify.units import _worker; _worker(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, top, json.dumps(payload), module],
                          cwd=str(tmp), env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not (tmp / f"{module}.v").is_file():
        raise RuntimeError(f"conversion of {module} failed:\n{proc.stderr[-4000:]}")
    (tmp / "cases.json").write_text(json.dumps(payload, indent=1) + "\n")
    publish_dir(tmp, final)
    return verilog


def unit_verilog(case) -> tuple:
    """(Verilog file, module name) of one case converted alone."""
    d = case.to_dict()
    module = f"vu_{case.kind}_{case.name}_{_digest(d)}"
    return _convert("unit", d, module), module


def bank_verilog(cases) -> tuple:
    """(Verilog file, module name) of requantize or activation cases side by side."""
    ds = [c.to_dict() for c in cases]
    kinds = {c.kind for c in cases}
    if len(kinds) != 1 or kinds - {"requantize", "activation"}:
        raise ValueError("bank_verilog: one kind of case, requantize or activation")
    module = f"vb_{cases[0].kind}_{_digest(ds)}"
    return _convert("bank", ds, module), module


def _worker(argv) -> None:
    """In a fresh process (cwd = output folder): convert a unit or a bank."""
    import warnings

    from myhdl import Signal, intbv

    from . import unit_blocks as ub

    top, payload, module = argv[0], json.loads(argv[1]), argv[2]
    warnings.filterwarnings("ignore", message=r".*driven but not read")
    clk = Signal(bool(0))
    if top == "bank":
        cases = [case_from_dict(d) for d in payload]
        x = Signal(intbv(0)[sum(c.in_bits for c in cases):])
        y = Signal(intbv(0)[sum(c.out_bits for c in cases):])
        inst = ub.unit_bank(clk, x, y, cases=cases)
    else:
        inst = ub.single_unit(case_from_dict(payload), clk)
    inst.convert(hdl="Verilog", name=module, path=".", initial_values=True)
