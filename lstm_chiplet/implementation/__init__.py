"""The implementation flow for the iCE40 UP5K, and the area and cycle figures beside it.

``lstm-chiplet synth`` (:mod:`.cli`) runs three parts, each writing JSON and markdown
under ``build/synth`` (``--out``):

UP5K flow (:func:`.flow.implement`)
    Any converted design with a manifest (:mod:`.sources`; ``hdl.convert`` writes one
    for either engine) goes through yosys ``synth_ice40 -dsp -spram``
    (:mod:`.yosys`), nextpnr-ice40 (``--up5k --package sg48``, a clock constraint, a
    fixed seed) and icepack (:mod:`.nextpnr`).  A design with the engine's stream
    ports is wrapped in :func:`hdl.host_bridge.host_bridge` (two byte streams: 22 pins
    instead of hundreds).  Two decisions yosys does not take by itself are made
    explicit, between checkpoints of its script:

    * DSP budget: the device has 8 SB_MAC16.  ``-dsp`` maps every multiplier; the
      flow gives the DSPs to the widest products (largest ``A_WIDTH * B_WIDTH``, the
      logic they save) and leaves the rest in logic, so a design with more products
      than DSPs still places;
    * memory placement: yosys prefers block RAM (EBR) whenever it is cheaper by its
      cost table, even past the device's 30 blocks.  When the estimated EBR need
      exceeds the device, the largest RAMs go to the four 16K x 16 SPRAMs
      (``ram_style = "huge"``), if yosys can map them there: SPRAM has one address
      port and holds its output during a write, so a RAM with separate read and write
      addresses cannot go there; the report names each refused memory and why.

    The report (:mod:`.reports`) gives logic cells, DSPs, EBR and SPRAM used against
    what the device has (:mod:`.device`), the maximum clock from nextpnr's timing
    analysis against ``--target-mhz``, and, when the design does not fit or misses the
    clock, by how much.

Generic cell counts (:func:`.utilisation.generic_cells`)
    yosys' technology-independent ``synth`` of the bare engine at several lane
    counts: gates, flip-flops, multipliers and memory bits (memories are counted,
    not expanded into flip-flops).

Multiplier utilisation (:func:`.utilisation.utilisation`)
    For every layer of the reference autoencoder and P in 1, 2, 4, 8, 16: the
    documented ``EngineConfig.cycles_per_step`` against the ideal ``ceil(H(D+H)/P)``,
    with the cycles measured in MyHDL simulation (:func:`cosim.cycles.measure`) when
    asked; the same for the whole-window design that goes on the UP5K
    (:func:`.utilisation.window_utilisation`, measured on Verilator); tables and a PNG
    plot.

Board top (:mod:`.board`, ``--board icebreaker``)
    The whole-window design behind the serial board layer, with the PLL and the
    board's pins, through the same yosys and nextpnr steps into a bitstream
    (docs/board.md).

Tools are found and run through :mod:`cosim.tools`: a missing tool stops with the
command that installs it, and long tool runs are started with ``nice -n 10`` (the
machine is shared).
"""
