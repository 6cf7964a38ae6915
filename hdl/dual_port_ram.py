"""Simple dual-port RAM that decodes its slice of a shared write address space.

Used for the on-chip memories with separate read and write addresses: the single-layer
engine's weight banks, every bias block, the h double buffer, the cell state c and the
whole-window engine's sequence buffer.
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv, modbv


@block
def dual_port_ram(clk, wr_en, wr_addr, wr_data, rd_addr, rd_data, *, base, depth):
    """RAM of `depth` words at global addresses [base, base+depth), registered read.

    mem[wr_addr - base] <= wr_data   when wr_en and base <= wr_addr < base + depth
    rd_data <= mem[rd_addr]          every cycle

    Ports
      clk      in   1
      wr_en    in   1      write enable, shared by every memory of the address space
      wr_addr  in   unsigned, global word address
      wr_data  in   word; an unsigned port is reinterpreted as two's complement
                    when the memory holds signed words (weights arrive as raw words)
      rd_addr  in   unsigned, local address 0 .. depth-1
      rd_data  out  the stored word's shape (e.g. weight Q4.12 s16), registered
    Latency: 1 cycle from rd_addr to rd_data.  A list of signals written in one
    clocked process and read into a register in another: the pattern synthesis
    infers as a RAM (block RAM on an FPGA).  No reset, no initial weights.
    """
    if depth < 1:
        raise ValueError(f"dual_port_ram: depth must be positive, got {depth}")
    mem = [Signal(intbv(0, min=rd_data.min, max=rd_data.max)) for _ in range(depth)]
    local_bits = max(1, (depth - 1).bit_length())
    addr_bits = len(wr_addr)
    limit = base + depth
    check_low = base > 0
    check_high = limit < (1 << addr_bits)
    reinterpret = wr_data.min >= 0 and rd_data.min < 0

    local = Signal(modbv(0)[addr_bits:])
    local_index = local(local_bits, 0)
    hit = Signal(bool(0))
    # The bits of the difference above the local index are zero whenever `hit`;
    # they drain into a signal named *unused* (Verilator's convention for
    # intentionally unread bits) so that lint sees every bit of `local` read.
    if addr_bits > local_bits:
        unused_high = Signal(intbv(0)[addr_bits - local_bits:])

        @always_comb
        def comb_unused():
            unused_high.next = local[addr_bits:local_bits]

    if check_low and check_high:
        @always_comb
        def comb_decode():
            local.next = wr_addr - base
            hit.next = wr_en and wr_addr >= base and wr_addr < limit
    elif check_low:
        @always_comb
        def comb_decode():
            local.next = wr_addr - base
            hit.next = wr_en and wr_addr >= base
    elif check_high:
        @always_comb
        def comb_decode():
            local.next = wr_addr
            hit.next = wr_en and wr_addr < limit
    else:
        @always_comb
        def comb_decode():
            local.next = wr_addr
            hit.next = wr_en

    if reinterpret:
        @always(clk.posedge)
        def seq_write():
            if hit:
                mem[local_index].next = wr_data.signed()
    else:
        @always(clk.posedge)
        def seq_write():
            if hit:
                mem[local_index].next = wr_data

    @always(clk.posedge)
    def seq_read():
        rd_data.next = mem[rd_addr]

    return instances()
