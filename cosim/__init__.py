"""Co-simulation of the converted Verilog against the golden model.

The same converted engine runs in two simulators, Icarus through MyHDL's VPI
(:mod:`cosim.icarus`) and Verilator under a generated C++ harness
(:mod:`cosim.verilator`), driven by one host model (:mod:`cosim.stream`) and held to
the golden model by the scoreboard (:mod:`cosim.scoreboard`).  See
``docs/verification.md``.

Modules: :mod:`cosim.tools` (every external tool, install hints, the missing-tool
rule), :mod:`cosim.checks` (quality gates on converted HDL), :mod:`cosim.vpi`
(MyHDL's VPI module), :mod:`cosim.verilog` (port lists, stream packing),
:mod:`cosim.compile` (cached conversion and compilation), :mod:`cosim.stream`
(stimulus, traces, host model, MyHDL bench), :mod:`cosim.traffic` (gaps,
back-pressure, resets), :mod:`cosim.runner` (run and check, failure handling),
:mod:`cosim.repro` (replay a saved failure), :mod:`cosim.engine` and
:mod:`cosim.configs` (the LSTM engine as device under test, planted bugs),
:mod:`cosim.mutants` (planted-bug machinery), :mod:`cosim.bench` (speed figures),
:mod:`cosim.autoencoder` (the whole-window engine and the ``rtl`` backend's runner),
:mod:`cosim.paths` (the build folder).
"""
