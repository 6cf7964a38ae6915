"""The whole-window engine's per-pass constants: one ROM per table, indexed by the pass number."""

from __future__ import annotations

from myhdl import Signal, block, instances, intbv

from golden.formats import bits_for

from .autoencoder_config import AutoencoderEngineConfig
from .rom import rom

#: The register each table is compared with or added to in the sequencer
#: (hdl.pass_sequencer): a table has that register's width, so lint sees no
#: width mismatch and no bit is wasted.
TABLE_REGISTERS = {
    "cols_last": "col", "x_last": "col", "blocks_last": "rblock",
    "x_stride": "buffer_address", "h_stride": "buffer_address",
    "weight_base": "waddr", "bias_base": "bias_blk",
    "step_gap": "gap_left", "x_base_next": "buffer_address", "gap_next": "gap_left",
}


def pass_tables(cfg: AutoencoderEngineConfig) -> dict:
    """The sequencer's per-pass constants, as tuples of Python ints indexed by pass number.

    ``*_next`` tables hold the value of the pass that follows (pass 0 after the dense
    pass, i.e. the next window).  Sequence-buffer addresses: pass n's input was written
    upwards from 0 (n odd) or downwards from the top (n even; the input window too), so
    ``x_base`` is the address of its first element read and the strides are magnitudes.
    """
    passes = cfg.passes
    t = cfg.timesteps
    n_pass = len(passes)
    top = cfg.sequence_words - 1
    xbase = []
    for ps in passes:
        down = ps.index % 2 == 0            # written by an odd pass, or the input window
        first = (t - 1) * passes[ps.index - 1].hidden if ps.repeat else 0   # the latent row
        xbase.append(top - first if down else first)
    tables = {
        "cols_last": [ps.columns - 1 for ps in passes],
        "x_last": [ps.inputs - 1 for ps in passes],
        "blocks_last": [ps.blocks - 1 for ps in passes],
        # strides move to the next row at a step's end (never used when T = 1)
        "x_stride": [0 if ps.repeat or t == 1 else ps.inputs for ps in passes],
        "h_stride": [0 if t == 1 else ps.hidden for ps in passes],
        "weight_base": [ps.weight_base for ps in passes],
        "bias_base": [ps.bias_base for ps in passes],
        "step_gap": [cfg.step_gap(n) if ps.kind == "lstm" else 0 for n, ps in enumerate(passes)],
        "x_base_next": [xbase[(n + 1) % n_pass] for n in range(n_pass)],
        "gap_next": [cfg.pass_gap(n + 1) if n + 1 < n_pass else 0 for n in range(n_pass)],
    }
    return {k: tuple(int(v) for v in vals) for k, vals in tables.items()}


def register_bits(cfg: AutoencoderEngineConfig) -> dict:
    """Bits of the sequencer's registers that the tables feed (see TABLE_REGISTERS).

    ``col`` counts the columns of the widest pass, ``rblock`` its row-blocks, ``waddr``
    the bank words, ``bias_blk`` the bias-block words, ``buffer_address`` the sequence
    buffer's words, and ``gap_left`` the longest gap (counted down to 1).
    """
    tables = pass_tables(cfg)
    passes = cfg.passes
    longest_gap = max(max(tables["step_gap"]), max(tables["gap_next"]))
    return {"col": bits_for(max(ps.columns for ps in passes)),
            "rblock": bits_for(max(ps.blocks for ps in passes)),
            "buffer_address": bits_for(cfg.sequence_words),
            "waddr": bits_for(cfg.layout.bank_words),
            "bias_blk": bits_for(cfg.layout.bias_words),
            "gap_left": bits_for(longest_gap + 1)}


class PassConstants:
    """The constants of the current pass, one unsigned signal per table of :func:`pass_tables`.

    Attributes
    ----------
    cols_last, x_last, blocks_last, x_stride, h_stride, weight_base, bias_base,
    step_gap, x_base_next, gap_next : Signal(intbv)
        Each as wide as the register it feeds (:func:`register_bits`).
    """

    def __init__(self, cfg: AutoencoderEngineConfig):
        bits = register_bits(cfg)
        for name, register in TABLE_REGISTERS.items():
            setattr(self, name, Signal(intbv(0)[bits[register]:]))


@block
def pass_table(pass_idx, consts, *, cfg):
    """consts.<table> = pass_tables(cfg)[<table>][pass_idx], for every table.

    Ports
      pass_idx  in   unsigned, the pass number 0 .. L (the LSTM layers, then the dense pass)
      consts    out  PassConstants: columns - 1, inputs - 1 and row-blocks - 1 of the
                     pass; the sequence-buffer strides of x and h from step to step
                     (words); the bank and bias-block addresses where each of its steps
                     starts; the idle cycles between its steps; the first input address
                     of the pass that follows and the idle cycles before it.  All
                     unsigned integers.
    Latency: combinational (one case ROM per table, written from pass_tables(cfg)).
    """
    tables = pass_tables(cfg)
    if set(tables) != set(TABLE_REGISTERS):
        raise AssertionError("pass_table: every table needs its register in TABLE_REGISTERS")
    names = list(TABLE_REGISTERS)
    roms = [rom(pass_idx, getattr(consts, name), contents=tables[name]) for name in names]
    for n in range(len(names)):     # an index: a loop variable holding a block would be
        roms[n].name = names[n]     # collected by instances() a second time

    return instances()
