"""What goes into the flow: a converted design, and the top that puts it behind the host bridge.

Owns :class:`DesignSource` (a design read from its manifest), the converters the flow
calls itself (:func:`engine_source`, :func:`autoencoder_source`), the host bridge's
conversion for a design's port widths (:func:`convert_bridge`) and the top module that
wires the design's stream ports through it (:func:`top_verilog`).  Also where the flow
writes by default (:data:`DEFAULT_OUT`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cosim.tools import ToolFailed
from hdl.ports import PORTS

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "synth"
#: Ports a design needs for the host bridge to wrap it: the engine's.
STREAM_PORTS = tuple(name for name, _direction in PORTS)
#: The top's pins with the bridge: clk, rst, rx 8+2, tx 8+2.
BRIDGE_PINS = 22


@dataclass
class DesignSource:
    """A converted design: top module, Verilog files and ports (from its manifest).

    The manifest contract (``hdl.convert.build_manifest`` writes it; any other design
    generator can): ``module`` (top module name), ``files.verilog`` (file name beside
    the manifest; ``files.verilog_sources``, a list, for designs in several files),
    ``ports`` (``name``, ``direction``, ``bits``); optional ``kind`` (e.g.
    ``"autoencoder"``), ``parameters`` and ``cycles`` are carried into the report.
    """

    module: str
    verilog: list
    ports: list
    manifest: dict
    manifest_path: Path | None = None

    @property
    def port_bits(self) -> dict:
        return {p["name"]: int(p["bits"]) for p in self.ports}

    @property
    def pins(self) -> int:
        return sum(self.port_bits.values())

    @property
    def has_streams(self) -> bool:
        return all(n in self.port_bits for n in STREAM_PORTS)

    @classmethod
    def from_manifest(cls, path) -> "DesignSource":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"manifest {path} does not exist")
        try:
            m = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"manifest {path}: not JSON ({exc})") from exc
        for key in ("module", "files", "ports"):
            if key not in m:
                raise ValueError(f"manifest {path}: missing key {key!r} (needs module, files, ports)")
        files = m["files"]
        names = list(files.get("verilog_sources") or []) or ([files["verilog"]] if "verilog" in files else [])
        if not names:
            raise ValueError(f"manifest {path}: files.verilog (or files.verilog_sources) names no file")
        verilog = [(path.parent / n).resolve() for n in names]
        for v in verilog:
            if not v.is_file():
                raise FileNotFoundError(f"manifest {path}: Verilog file {v.name} not found beside it")
        for k, p in enumerate(m["ports"]):
            if not {"name", "direction", "bits"} <= set(p):
                raise ValueError(f"manifest {path}: port {k} lacks name, direction or bits: {p}")
        return cls(m["module"], verilog, list(m["ports"]), m, path.resolve())


def engine_source(cfg, outdir) -> DesignSource:
    """Convert a single-layer engine (:class:`hdl.config.EngineConfig`) and load its manifest."""
    from hdl.convert import convert_design

    paths = convert_design(cfg, Path(outdir))
    return DesignSource.from_manifest(paths["manifest"])


def autoencoder_source(lanes: int, outdir, model=None) -> DesignSource:
    """Convert the whole-window design (``hdl.convert``) for the reference model, or for
    ``model`` (a :class:`golden.autoencoder.FixedAutoencoder`: its topology and formats,
    per-layer ones included)."""
    from golden.autoencoder import AutoencoderConfig
    from hdl.autoencoder_config import AutoencoderEngineConfig
    from hdl.convert import convert_design

    cfg = (AutoencoderEngineConfig(AutoencoderConfig(), lanes) if model is None
           else AutoencoderEngineConfig.for_model(model, lanes))
    paths = convert_design(cfg, Path(outdir))
    return DesignSource.from_manifest(paths["manifest"])


# ----------------------------------------------------------------------- host bridge
def _bridge_worker(argv) -> None:
    """In a fresh process: convert the host bridge for the given widths (see convert_bridge)."""
    import warnings

    from hdl.host_bridge import BridgeGeometry, bridge_module_name, bridge_ports, host_bridge

    geo = BridgeGeometry(*(int(v) for v in argv[:4]))
    warnings.filterwarnings("ignore", message=r".*driven but not read: .*unused")
    host_bridge(**bridge_ports(geo)).convert(hdl="Verilog", path=argv[4], name=bridge_module_name(geo),
                                             initial_values=True)


def convert_bridge(geo, outdir: Path) -> Path:
    """The bridge for ``geo`` as Verilog in ``outdir`` (converted in a fresh process)."""
    from hdl.host_bridge import bridge_module_name

    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = ("import sys; from lstm_chiplet.implementation.sources import _bridge_worker; "
            "_bridge_worker(sys.argv[1:])")
    args = [geo.in_bits, geo.out_bits, geo.addr_bits, geo.data_bits, outdir]
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=600)
    path = outdir / f"{bridge_module_name(geo)}.v"
    if proc.returncode != 0 or not path.is_file():
        raise ToolFailed(f"conversion of the host bridge failed:\n{proc.stderr[-4000:]}")
    return path


def top_verilog(src: DesignSource, bridge_module: str, top: str) -> str:
    """A top module: the host bridge's byte streams on pins, the design behind it."""
    bits = src.port_bits
    inner = [n for n in STREAM_PORTS if n not in ("clk", "rst")]

    def rng(n):
        return f"[{bits[n] - 1}:0] " if bits[n] > 1 else ""

    lines = [f"// {top}: {src.module} behind the byte-wide host bridge (lstm_chiplet.implementation).",
             f"module {top} (",
             "    input clk, input rst,",
             "    input [7:0] rx_data, input rx_valid, output rx_ready,",
             "    output [7:0] tx_data, output tx_valid, input tx_ready",
             ");"]
    lines += [f"wire {rng(n)}{n};" for n in inner]
    lines += [f"{bridge_module} bridge (",
              "    .clk(clk), .rst(rst), .rx_data(rx_data), .rx_valid(rx_valid), .rx_ready(rx_ready),",
              "    .tx_data(tx_data), .tx_valid(tx_valid), .tx_ready(tx_ready),",
              ",\n".join(f"    .{n}({n})" for n in inner),
              ");",
              f"{src.module} core (",
              "    .clk(clk), .rst(rst),",
              ",\n".join(f"    .{n}({n})" for n in inner),
              ");",
              "endmodule", ""]
    return "\n".join(lines)
