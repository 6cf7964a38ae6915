"""Co-simulation of the converted Verilog against the golden model.

Modules: :mod:`cosim.tools` (simulators, install hints), :mod:`cosim.vpi` (MyHDL's VPI
module for Icarus), :mod:`cosim.verilog` (port lists of converted modules),
:mod:`cosim.compile` (cached conversion and compilation), :mod:`cosim.stream`
(stimulus, traces, MyHDL drivers and monitors), :mod:`cosim.icarus` and
:mod:`cosim.verilator` (the two runners), :mod:`cosim.scoreboard` (expected beats,
checks and mismatch reports), :mod:`cosim.engine` (the LSTM engine as device under
test), :mod:`cosim.mutants` (planted bugs), :mod:`cosim.bench` (speed figures).
"""
