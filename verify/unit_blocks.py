"""Wrapper blocks that put one datapath unit (or a bank of them) at the top of a conversion.

They add no logic of their own to a unit: :func:`single_unit` makes the unit's ports the
module's ports; :func:`unit_bank` slices one wide input into every case's inputs and
concatenates their outputs (case 0 in the low bits), so that one simulator build serves
many cases.  The blocks of ``hdl/`` are used as they are.
"""

from __future__ import annotations

from myhdl import ConcatSignal, Signal, always_comb, block, instances, intbv

from hdl.activation_unit import activation_unit
from hdl.cell_update import cell_update
from hdl.mac_lane import mac_lane
from hdl.requantize import requantize
from hdl.signals import signed


@block
def signed_field(x, field, *, lo):
    """field = x[lo + len(field) - 1 : lo], as a signed number."""
    hi = lo + len(field)

    @always_comb
    def comb_field():
        field.next = x[hi:lo].signed()

    return instances()


@block
def unsigned_field(x, field, *, lo):
    """field = x[lo + len(field) - 1 : lo]."""
    hi = lo + len(field)

    @always_comb
    def comb_field():
        field.next = x[hi:lo]

    return instances()


@block
def joined(parts, y):
    """y = the concatenation of ``parts`` (a ConcatSignal), as y's bits."""

    @always_comb
    def comb_join():
        y.next = parts

    return instances()


@block
def requantize_top(clk, x, y, *, case):
    """hdl.requantize at ``case`` (a verify.units.RequantizeCase without extra)."""
    return requantize(clk, x, y, from_frac=case.from_frac, fmt=case.fmt, registered=case.registered)


@block
def requantize_moving_top(clk, x, extra, y, *, case):
    """hdl.requantize at ``case`` with its per-pass shift ``extra``."""
    return requantize(clk, x, y, from_frac=case.from_frac, fmt=case.fmt, extra=extra,
                      registered=case.registered)


@block
def activation_top(clk, z, y, *, case):
    """hdl.activation_unit at ``case`` (a verify.units.ActivationCase without extra)."""
    return activation_unit(clk, z, y, kind=case.function, fmts=case.fmts, pipelined=case.pipelined)


@block
def activation_moving_top(clk, z, extra, y, *, case):
    """hdl.activation_unit at ``case`` with its per-pass shift ``extra``."""
    return activation_unit(clk, z, y, kind=case.function, fmts=case.fmts, pipelined=case.pipelined,
                           table_fmts=case.table_fmts, extra=extra)


@block
def cell_update_top(clk, i, f, g, o, c_prev, c_new, h_new, *, case):
    """hdl.cell_update at ``case.fmts``, ``case.pipelined``."""
    return cell_update(clk, i, f, g, o, c_prev, c_new, h_new, fmts=case.fmts, pipelined=case.pipelined)


@block
def mac_lane_top(clk, v, w, first, last, drain_in, drain_out, *, case):
    """hdl.mac_lane with ``case``'s product and accumulator widths."""
    return mac_lane(clk, v, w, first, last, drain_in, drain_out, product_bits=case.product_bits)


def _ports(case):
    """The unit's input signals (x or z, then extra) and its output signal."""
    if case.kind == "requantize":
        x = Signal(signed(case.x_bits))
    else:
        x = Signal(signed(case.fmts.preact.word_bits))
    extra = Signal(intbv(0, min=0, max=case.extra_span + 1)) if case.extra_span else None
    return x, extra, Signal(signed(case.out_bits))


def single_unit(case, clk):
    """The top-level instance of one case with fresh port signals."""
    if case.kind in ("requantize", "activation"):
        x, extra, y = _ports(case)
        if case.kind == "requantize" and extra is None:
            return requantize_top(clk, x, y, case=case)
        if case.kind == "requantize":
            return requantize_moving_top(clk, x, extra, y, case=case)
        if extra is None:
            return activation_top(clk, x, y, case=case)
        return activation_moving_top(clk, x, extra, y, case=case)
    f = case.fmts
    if case.kind == "cell_update":
        a = f.act.word_bits
        i, fg, g, o = (Signal(signed(a)) for _ in range(4))
        c_prev, c_new = Signal(signed(f.preact.word_bits)), Signal(signed(f.preact.word_bits))
        h_new = Signal(signed(f.vec.word_bits))
        return cell_update_top(clk, i, fg, g, o, c_prev, c_new, h_new, case=case)
    if case.kind == "mac_lane":
        v, w = Signal(signed(f.vec.word_bits)), Signal(signed(f.weight.word_bits))
        first, last = Signal(bool(0)), Signal(bool(0))
        drain_in, drain_out = Signal(signed(case.acc_bits)), Signal(signed(case.acc_bits))
        return mac_lane_top(clk, v, w, first, last, drain_in, drain_out, case=case)
    raise ValueError(f"no unit of kind {case.kind!r}")


@block
def unit_bank(clk, x, y, *, cases):
    """Every case side by side: inputs sliced from x, outputs concatenated into y."""
    units = []
    outs = []
    lo = 0
    for case in cases:
        xi, ei, yi = _ports(case)
        units.append(signed_field(x, xi, lo=lo))
        lo += len(xi)
        if ei is not None:
            units.append(unsigned_field(x, ei, lo=lo))
            lo += len(ei)
        # the unit is created here, in the block body (MyHDL's rule for sub-blocks)
        if case.kind == "requantize" and ei is None:
            units.append(requantize_top(clk, xi, yi, case=case))
        elif case.kind == "requantize":
            units.append(requantize_moving_top(clk, xi, ei, yi, case=case))
        elif ei is None:
            units.append(activation_top(clk, xi, yi, case=case))
        else:
            units.append(activation_moving_top(clk, xi, ei, yi, case=case))
        outs.append(yi)
    parts = ConcatSignal(*reversed(outs)) if len(outs) > 1 else outs[0]
    units.append(joined(parts, y))
    return instances()
