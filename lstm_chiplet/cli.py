"""``lstm-chiplet``: the user's entry point.

Each subcommand lives in the package that owns its work; this front end only knows
where.  A subcommand module (or the object ``module:name`` names in it) provides
``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when its command
is named, so start-up stays fast and one command's missing dependency never breaks
another.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

#: name -> (module or module:object, one-line help)
COMMANDS = {
    "bench": ("lstm_chiplet.bench", "the 273-window workload side by side: pure Python, numpy, kernels, fxpmath, simulators, projected UP5K and chiplet"),
    "bench-scale": ("lstm_chiplet.scale.bench", "speed-up of 1 against 2 Dask workers: fixed backend on a generated multi-station archive, rtl on 1,000 windows, scheduling overhead per task"),
    "bench-golden": ("lstm_chiplet.workload.golden_bench", "accuracy and speed of the golden models (float vs fixed)"),
    "cosim-bench": ("cosim.bench", "simulated cycles per second: Icarus via MyHDL's VPI and Verilator on the same engine"),
    "convert": ("lstm_chiplet.convert:LayerCommand", "convert an LSTM engine configuration to Verilog and VHDL (+ manifest, memory image)"),
    "convert-autoencoder": ("lstm_chiplet.convert:AutoencoderCommand", "convert the whole-window engine (every layer of the autoencoder on chip) to Verilog and VHDL (+ manifest, memory image)"),
    "detect": ("lstm_chiplet.detect", "find anomalous windows in NOAA data (default: generated data, shipped model) and write the report"),
    "inspect": ("lstm_chiplet.models.inspection", "what a model file (.keras, .h5, .onnx, .pt, .npz) holds: topology, parameters, formats, engine memory and cycles, anything refused"),
    "perf": ("lstm_chiplet.perf", "performance model: host link, compute, memory, budgets (seeds vs corrected)"),
    "quantize": ("lstm_chiplet.quantize", "per-layer fixed-point formats: calibrate ranges on data, search the cheapest word widths that meet an error or same-anomalies target"),
    "sweep": ("lstm_chiplet.scale.sweep", "design-space sweep of the whole-window design over lanes and nextpnr seeds on Dask: cycles, cosim check, UP5K synthesis and place and route per point, cached; table and Pareto plot"),
    "synth": ("lstm_chiplet.implementation.cli", "implementation flow: iCE40 UP5K place and route, generic cell counts, multiplier utilisation"),
    "train": ("lstm_chiplet.workload.training", "train the LSTM autoencoder (numpy BPTT, Adam) on NOAA data and save the project model"),
}


#: Commands that read a model file: they take ``--layers`` (the order of a PyTorch state
#: dict's LSTM modules, lstm_chiplet.models.pytorch), which reaches the loader through
#: lstm_chiplet.models.store.layer_order.
MODEL_COMMANDS = ("bench", "convert-autoencoder", "detect", "inspect", "quantize")
LAYERS_HELP = ("order of a PyTorch state dict's nn.LSTM modules when their names do not say it: "
               "ENCODER,.../DECODER,... (module names in forward order; '/' is where the latent "
               "vector is repeated)")


class UserError(Exception):
    """An error the user can act on; printed without a traceback."""


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so every command's clean-up runs."""


def _terminate(signum, frame):
    raise Terminated()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (to declare its arguments)."""
    p = argparse.ArgumentParser(
        prog="lstm-chiplet",
        description="LSTM chiplet toolkit: golden models, MyHDL engine, co-simulation, anomaly detection.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        if name == command:
            command_object(module).add_arguments(sp)
            if name in MODEL_COMMANDS:
                sp.add_argument("--layers", metavar="ENC,.../DEC,...", default=None, help=LAYERS_HELP)
    return p


def command_object(spec: str):
    """The module, or the object in it, that ``module`` or ``module:name`` names."""
    module, _, name = spec.partition(":")
    found = importlib.import_module(module)
    return getattr(found, name) if name else found


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        layers = getattr(args, "layers", None)
        if layers is None:
            return int(command_object(args._module).run(args) or 0)
        from lstm_chiplet.models.store import layer_order

        with layer_order(layers):
            return int(command_object(args._module).run(args) or 0)
    except (UserError, ValueError, OSError) as exc:
        print(f"lstm-chiplet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nlstm-chiplet {args.command}: interrupted (SIGINT)", file=sys.stderr)
        # An interrupt that passed through code CPython ran from a string (a dataclass or
        # namedtuple made during an import) leaves its "unhandled KeyboardInterrupt" mark,
        # and under ``python -m`` the interpreter then ends by SIGINT instead of this exit
        # status.  Evaluating a string clears the mark: the status is 130 every time.
        exec("None")
        return 128 + signal.SIGINT
    except Terminated:
        print(f"lstm-chiplet {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
