"""The whole-window engine's input side: a window of T beats into the sequence buffer."""

from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, instances, intbv

from .autoencoder_config import AutoencoderEngineConfig
from .signals import unsigned_for


@block
def window_loader(clk, rst, stream, loading, loaded, we, addr, data, *, cfg):
    """buffer[top - (t*F + k)] = x_t[k]: one element per cycle, downwards from the top.

    Element k of beat t is written in the beat's k-th cycle; the beat is taken in its
    F-th cycle (in_tready), so a window of T beats takes T*F cycles.  A beat with
    tlast before step T-1 drops the partial window: the next beat is step 0 again.

    Ports (F features, T steps; VW = vec word bits; top = sequence_words - 1)
      clk      in   1
      rst      in   1, synchronous, active high: back to step 0, element 0
      stream   in   Stream of x_t: tdata F*VW (element k in bits [(k+1)*VW-1 : k*VW],
                    vec format, e.g. Q2.14), tvalid, tlast in; tready out (comb.)
      loading  in   1, the sequencer waits for a window (elements are taken only then)
      loaded   out  1, the window's last element is written in this cycle (comb.)
      we       out  1, write an element into the sequence buffer (comb.)
      addr     out  unsigned, its buffer address (top at step 0, element 0)
      data     out  signed vec word (e.g. Q2.14 s16), element k of tdata (comb.)
    Latency: combinational from tdata to the write; one beat per F cycles (F = 3):

        clk       _/~~~\\___/~~~\\___/~~~\\___/~~~\\___/~~~\\___/~~~\\___
        tvalid    _/~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~    x_0, then x_1
        tready    _________________/~~~~~~~\\_______________/~~~~~~~    F-th cycle
        we        _/~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
        addr        top     top-1   top-2   top-3   top-4   top-5
        data        x_0[0]  x_0[1]  x_0[2]  x_1[0]  x_1[1]  x_1[2]
                              beat 0 taken ^                beat 1 ^
    """
    if not isinstance(cfg, AutoencoderEngineConfig):
        raise TypeError(f"window_loader: cfg must be an AutoencoderEngineConfig, "
                        f"got {type(cfg).__name__}")
    vw = cfg.vec_bits
    f_count = cfg.features
    t_count = cfg.timesteps
    top = cfg.sequence_words - 1
    last_shift = (f_count - 1) * vw
    last_step = t_count - 1
    buf_bits = len(addr)

    ld_shift = Signal(unsigned_for(last_shift + 1))      # bit offset of element k in tdata
    ld_t = Signal(unsigned_for(t_count))
    ld_addr = Signal(intbv(top)[buf_bits:])
    in_shifted = Signal(intbv(0)[f_count * vw:])

    @always_comb
    def comb_input():
        stream.tready.next = loading and ld_shift == last_shift
        we.next = loading and stream.tvalid
        loaded.next = loading and stream.tvalid and ld_shift == last_shift and ld_t == last_step
        in_shifted.next = stream.tdata >> ld_shift
        addr.next = ld_addr

    @always_comb
    def comb_input_word():
        data.next = in_shifted[vw:].signed()

    if f_count > 1:
        # the elements above the one being written: not needed (drained for lint)
        unused_in = Signal(intbv(0)[(f_count - 1) * vw:])

        @always_comb
        def comb_unused_in():
            unused_in.next = in_shifted[f_count * vw:vw]

    @always_seq(clk.posedge, reset=rst)
    def seq_load():
        if loading and stream.tvalid:
            if ld_shift == last_shift:
                ld_shift.next = 0
                if ld_t == last_step or stream.tlast:
                    ld_t.next = 0
                    ld_addr.next = top
                else:
                    ld_t.next = ld_t + 1
                    ld_addr.next = ld_addr - 1
            else:
                ld_shift.next = ld_shift + vw
                ld_addr.next = ld_addr - 1

    return instances()
