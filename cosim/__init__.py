"""Co-simulation of the converted Verilog against the golden model.

The same converted engine runs in two simulators, Icarus through MyHDL's VPI
(:mod:`cosim.icarus`) and Verilator under a generated C++ harness
(:mod:`cosim.verilator`), driven by one host model (:mod:`cosim.host`) and held to
the golden model by the scoreboard (:mod:`cosim.scoreboard`).  See
``docs/verification.md``.

Modules: :mod:`cosim.tools` (every external tool, install hints, the missing-tool
rule), :mod:`cosim.checks` (quality gates on converted HDL), :mod:`cosim.vpi`
(MyHDL's VPI module), :mod:`cosim.verilog` (port lists, stream packing),
:mod:`cosim.compile` (cached conversion and compilation), :mod:`cosim.stream`
(stimulus and trace records), :mod:`cosim.driver`, :mod:`cosim.monitor` and
:mod:`cosim.host` (the host model: driver, monitor, the MyHDL bench that drives a MyHDL
block or its cosimulated Verilog), :mod:`cosim.icarus_file` (the host transcribed into
Verilog, for long Icarus runs), :mod:`cosim.traffic` (gaps,
back-pressure, resets), :mod:`cosim.runner` (run and check, failure handling),
:mod:`cosim.repro` (replay a saved failure), :mod:`cosim.engine` and
:mod:`cosim.configs` (the LSTM engine as device under test, planted bugs),
:mod:`cosim.mutants` (planted-bug machinery), :mod:`cosim.bench` (speed figures),
:mod:`cosim.autoencoder` (the whole-window engine and the ``rtl`` backend's runner),
:mod:`cosim.cycles` (cycle tables measured in MyHDL simulation),
:mod:`cosim.paths` (the build folder).
"""
