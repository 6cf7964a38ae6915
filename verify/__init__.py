"""Verification beyond co-simulation: exhaustive unit checks, formal proofs, coverage, mutation.

* :mod:`verify.units`: the datapath units (requantize, activation unit, cell update,
  MAC lane) converted to Verilog on their own, through small wrapper blocks;
* :mod:`verify.exhaustive`: every input code of the small units, run on Verilator,
  against ``golden``'s function of the same code;
* :mod:`verify.reference` and :mod:`verify.formal`: reference Verilog written from
  ``golden`` (expressions and case tables, no MyHDL) and yosys proofs that the
  converted units equal it;
* :mod:`verify.coverage`: line and toggle coverage of the whole-window design;
* :mod:`verify.mutation`: a yosys ``mutate`` campaign against a fixed regression subset.

Everything generated goes under ``build/verify/``.
"""
