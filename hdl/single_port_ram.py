"""Single-port RAM: one address shared by the host's writes and the datapath's reads.

The whole-window engine keeps every layer's weights of one lane in one of these.  With
one address port (muxed between the write port and the read counter) and no read while
writing, it has the shape of the iCE40 UP5K's SB_SPRAM256KA (16K x 16, one access per
cycle), which yosys can map it to; writes happen only while the engine is idle.
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, instances, intbv


@block
def single_port_ram(clk, wr_en, wr_addr, wr_data, rd_addr, rd_data, *, region, region_bits, depth):
    """RAM of `depth` words in write-port region `region`: write or read, one per cycle.

    hit  = wr_en and wr_addr >> region_bits == region and local < depth
    addr = hit ? wr_addr[region_bits:0] : rd_addr
    hit:  mem[addr] <= wr_data            (rd_data holds its value)
    else: rd_data  <= mem[addr]

    Ports
      clk      in   1
      wr_en    in   1, the engine's write strobe (shared by every memory)
      wr_addr  in   unsigned, global word address (region in the top bits)
      wr_data  in   unsigned word, reinterpreted as the stored signed format
      rd_addr  in   unsigned, local read address 0 .. depth-1 (the datapath's counter)
      rd_data  out  signed weight word (e.g. Q4.12 s16), registered
    Latency: 1 cycle from rd_addr to rd_data.  One address, read disabled during a
    write: the pattern yosys maps to single-port RAM (SPRAM on the iCE40 UP5K).
    """
    if depth < 1:
        raise ValueError(f"single_port_ram: depth must be positive, got {depth}")
    aw = len(wr_addr)
    if region_bits >= aw:
        raise ValueError(f"single_port_ram: region_bits ({region_bits}) must be below the address width ({aw})")
    if depth > (1 << region_bits):
        raise ValueError(f"single_port_ram: depth {depth} exceeds the region of 2^{region_bits} words")
    local_bits = max(1, (depth - 1).bit_length())
    mem = [Signal(intbv(0, min=rd_data.min, max=rd_data.max)) for _ in range(depth)]
    addr = Signal(intbv(0)[local_bits:])
    hit = Signal(bool(0))
    region_field = wr_addr(aw, region_bits)
    local_field = wr_addr(region_bits, 0)
    check_depth = depth < (1 << region_bits)
    # Bits of the local field above the RAM's address width (zero whenever `hit`);
    # drained into a signal named *unused* (Verilator's convention) for lint.
    if region_bits > local_bits:
        local_low = wr_addr(local_bits, 0)
        unused_local = Signal(intbv(0)[region_bits - local_bits:])

        @always_comb
        def comb_unused():
            unused_local.next = wr_addr[region_bits:local_bits]
    else:
        local_low = local_field

    if check_depth:
        @always_comb
        def comb_decode():
            hit.next = wr_en and region_field == region and local_field < depth
    else:
        @always_comb
        def comb_decode():
            hit.next = wr_en and region_field == region

    @always_comb
    def comb_address():
        if hit:
            addr.next = local_low
        else:
            addr.next = rd_addr

    if wr_data.min >= 0 and rd_data.min < 0:
        @always(clk.posedge)
        def seq_access():
            if hit:
                mem[addr].next = wr_data.signed()
            else:
                rd_data.next = mem[addr]
    else:
        @always(clk.posedge)
        def seq_access():
            if hit:
                mem[addr].next = wr_data
            else:
                rd_data.next = mem[addr]

    return instances()
