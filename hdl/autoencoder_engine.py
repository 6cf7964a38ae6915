"""The whole-window engine: the complete LSTM autoencoder on one datapath, weights on chip.

Structure (one clock, synchronous active-high reset; see docs/whole_window.md)::

    in stream --> loader --> sequence buffer -----> v = [x; h_prev] --> 4 x window gate unit --+
      (T x F)                (input window and        ^                  (P lanes, every pass's |
                             every layer's h: a       |                   weights, biases)      |
                             pass's input at one   sequencer <-- pass table  |                  |
                             end, its output at    (passes, steps,           | z (LSTM rows)    | y (dense
                             the other)  ^          row-blocks, columns)      v                  |  rows)
                                         |                        row pipeline: activation units |
                                         |                        (4, or at P = 1 one sigmoid +   |
                                         |                        one tanh shared by the gates),  |
                                         +------ h' (row t) <---- cell update, c RAM              v
    out stream <------------------------------------------------------------- output packer <---+

A sequencer (:mod:`hdl.pass_sequencer`) runs the passes one after the other over the
window: the LSTM layers (encoder, then decoder; the first decoder layer re-reads the
latent vector, row T-1 of the last encoder layer's output, at every step) and the dense
layer, whose rows are spread over the four gate units.  Per-pass constants (sizes, bank
and bias bases, buffer strides, gaps) are elaboration-time tables indexed by the pass
number (:mod:`hdl.pass_table`).  The window comes in through :mod:`hdl.window_loader`,
the rows after the gate units go through :mod:`hdl.row_pipeline`, and the dense outputs
leave through :mod:`hdl.output_packer`.

See :func:`autoencoder_engine` for ports and timing, :mod:`hdl.autoencoder_config` for
the cycle formula and :mod:`golden.autoencoder_memory_map` for the memory map.
"""

from __future__ import annotations

from myhdl import Signal, always_comb, block, instances, intbv

from golden.lstm_float import GATES

from .autoencoder_config import AutoencoderEngineConfig
from .dual_port_ram import dual_port_ram
from .gate_unit import gate_unit
from .output_packer import output_packer
from .pass_formats import PassShiftSignals
from .pass_sequencer import BlockDescriptor, moving_points, pass_sequencer
from .pass_table import PassConstants, pass_table, register_bits
from .row_pipeline import row_pipeline
from .signals import signed, unsigned_for
from .stream import Stream
from .window_loader import window_loader


@block
def autoencoder_engine(clk, rst, in_tdata, in_tvalid, in_tready, in_tlast,
                       out_tdata, out_tvalid, out_tready, out_tlast,
                       wr_en, wr_addr, wr_data, *, cfg):
    """The autoencoder of golden.autoencoder.FixedAutoencoder over one window of T steps.

    encoder LSTM layers -> latent (last h) repeated T times -> decoder LSTM layers ->
    y_t = vec.requantize(h_t @ Wd + (bd << vec.frac), acc_frac) at every step.
    Each LSTM step: z = preact(x Wk + h Wr + (b << vec.frac)); c' = f c + i g;
    h' = o tanh(c') (golden.lstm_fixed), h = c = 0 at the start of every layer.

    Ports (F features, T steps; VW = vec word bits, WW = weight word bits)
      clk         in   1
      rst         in   1, synchronous, active high: clears the sequencer, the streams
                       and the partial window; weights are kept
      in_tdata    in   F*VW: x_t, element k in bits [(k+1)*VW-1 : k*VW], vec format
                       (e.g. Q2.14), two's complement
      in_tvalid   in   1
      in_tready   out  1, high in the F-th cycle of a beat while a window is loading
                       (element k is written into the sequence buffer in the beat's
                       k-th cycle; in_tdata must be held, as AXI4-Stream requires)
      in_tlast    in   1, the last step of a window; a beat with tlast before step T-1
                       drops the partial window (the next beat is step 0 again)
      out_tdata   out  F*VW: y_t, same packing, registered, held while not taken
      out_tvalid  out  1
      out_tready  in   1, back-pressure: the dense pass waits while a y is held
      out_tlast   out  1, on y_{T-1}
      wr_en       in   1, write one weight word (only while idle, between windows)
      wr_addr     in   word address (golden.autoencoder_memory_map: regions of
                       2^region_bits words; lane banks, then bias blocks)
      wr_data     in   WW, the weight's two's-complement word (e.g. Q4.12)

    Timing: a window is T beats taken F cycles apart (T*F cycles), then the passes
    run back to back; the dense pass streams y_0 .. y_{T-1} while it runs, and the
    next window is taken as soon as the dense pass has issued its last column.  The
    spacing of windows is cfg.cycles_per_window (hdl.autoencoder_config).

        clk        _/~\\_/~\\_/~\\_/~\\_ ... _/~\\_/~\\_ ... _/~\\_/~\\_
        in_tvalid  _/~~~~~~~~~~~~~~~~ ... ~~~~~~\\___ ... __________
        in_tready  _________/~~\\____ ... ___/~~\\___ ... __________   (F-th cycle of a beat)
        out_tvalid ________________ ... __________ ... _/~~\\____   (one y per dense step)
                        beat 0 taken ^   beat T-1 ^  passes ... ^ y_t
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"autoencoder_engine: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    fm = cfg.datapath.fmts
    vw = fm.vec.word_bits
    seq_words = cfg.sequence_words
    bits = register_bits(cfg)
    buf_bits = bits["buffer_address"]

    # ---- interfaces
    in_stream = Stream.of(in_tdata, in_tvalid, in_tready, in_tlast)
    out_stream = Stream.of(out_tdata, out_tvalid, out_tready, out_tlast)
    consts = PassConstants(cfg)             # the constants of pass pass_idx
    desc = BlockDescriptor(cfg)             # the row-block whose last column is on v

    # ---- loader <-> sequencer
    loading = Signal(bool(0))
    loaded = Signal(bool(0))
    load_we = Signal(bool(0))
    load_addr = Signal(intbv(0)[buf_bits:])
    load_data = Signal(signed(vw))

    # ---- sequencer -> gate units
    pass_idx = Signal(unsigned_for(len(cfg.passes)))
    waddr = Signal(intbv(0)[bits["waddr"]:])
    v = Signal(signed(vw))
    first = Signal(bool(0))
    last = Signal(bool(0))
    dense_last = Signal(bool(0))

    # ---- gate units -> row pipeline -> output packer
    bias_addr = Signal(intbv(0)[bits["bias_blk"]:])
    z = [Signal(signed(fm.preact.word_bits)) for _ in range(4)]
    y = [Signal(signed(vw)) for _ in range(4)]
    h_we = Signal(bool(0))
    h_addr = Signal(intbv(0)[buf_bits:])
    h_data = Signal(signed(vw))
    y_valid = Signal(bool(0))
    y_first = Signal(bool(0))

    # ---- the sequence buffer: one write port for the window and the h rows
    seq_we = Signal(bool(0))
    seq_waddr = Signal(intbv(0)[buf_bits:])
    seq_wdata = Signal(signed(vw))
    seq_raddr = Signal(intbv(0)[buf_bits:])
    seq_rdata = Signal(signed(vw))

    loader = window_loader(clk, rst, in_stream, loading, loaded, load_we, load_addr, load_data,
                           cfg=cfg)
    loader.name = "loader"
    table = pass_table(pass_idx, consts, cfg=cfg)
    table.name = "pass_table"
    sequencer = pass_sequencer(clk, rst, out_stream, loading, loaded, pass_idx, consts,
                               seq_raddr, seq_rdata, waddr, v, first, last, desc, dense_last,
                               cfg=cfg)
    sequencer.name = "sequencer"
    # the rows' shifts where the passes' binary points move (hdl.pass_formats)
    extras = PassShiftSignals(cfg.pass_formats) if moving_points(cfg) else None
    gates = [gate_unit(clk, wr_en, wr_addr, wr_data, waddr, bias_addr, v, first, last, z[g], y[g],
                       extras.bias if extras else None, extras.z if extras else None,
                       gate=g, datapath=cfg.datapath, layout=cfg.layout, bank="single_port",
                       registered_sum=True)
             for g in range(4)]
    for g in range(4):
        gates[g].name = f"gate_{GATES[g]}"
    rows = row_pipeline(clk, rst, last, desc, z, bias_addr, h_we, h_addr, h_data, y_valid, y_first,
                        extras, cfg=cfg)
    rows.name = "rows"
    output = output_packer(clk, rst, y, y_valid, y_first, dense_last, out_stream, cfg=cfg)
    output.name = "output"
    sequence_buffer = dual_port_ram(clk, seq_we, seq_waddr, seq_wdata, seq_raddr, seq_rdata, base=0,
                                    depth=seq_words)
    sequence_buffer.name = "sequence_buffer"

    @always_comb
    def comb_buffer_write():
        # the window while it loads (the passes wait), else the row pipeline's h
        if load_we:
            seq_we.next = 1
            seq_waddr.next = load_addr
            seq_wdata.next = load_data
        else:
            seq_we.next = h_we
            seq_waddr.next = h_addr
            seq_wdata.next = h_data

    return instances()
