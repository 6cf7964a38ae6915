"""Designs under test, converted once and compiled once per simulator (cached).

A :class:`Design` is one converted Verilog module plus what the benches need to know
about it (ports, stream shape, documented cycles per step).  Conversion of an engine
configuration runs :func:`hdl.convert.convert_design` (in its own subprocess, see
there) into ``build/cosim/designs/<module>-<source hash>/``; the key covers every
source file of ``hdl/`` and ``golden/``, so an edit reconverts and a hypothesis run
reuses.  Simulator builds (:func:`compile_icarus`, :func:`cosim.verilator.build`) are
keyed by the hash of the exact Verilog text, the generated wrapper and the tool version:
random weights go in through the write port, so no example ever recompiles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .paths import REPO, build_root, private_dir, publish_dir
from .stream import StreamShape
from .tools import run_tool, tool_version
from .verilog import Port, parse_ports

STREAM_PORTS = ("clk", "rst", "in_tdata", "in_tvalid", "in_tready", "in_tlast",
                "out_tdata", "out_tvalid", "out_tready", "out_tlast", "wr_en", "wr_addr", "wr_data")


@dataclass(frozen=True)
class Design:
    """A converted Verilog module with the engine's stream port shape.

    Attributes
    ----------
    module : str
        Verilog module name (carries the parameters).
    verilog : Path
        The source file holding ``module`` (and any sub-modules).
    ports : tuple of Port
        Header-ordered ports, parsed from the source.
    shape : StreamShape
        Element counts and bits of the streams and of the write port.
    cycles_per_step : int or None
        The documented handshake-to-out_tvalid latency (None if undocumented).
    label : str
        What this is (``engine``, a mutant name, a test design).
    """

    module: str
    verilog: Path
    ports: tuple
    shape: StreamShape
    cycles_per_step: int | None = None
    label: str = ""
    manifest: dict = field(default=None, compare=False, hash=False)
    config: object = field(default=None, compare=False, hash=False)

    @property
    def text(self) -> str:
        return Path(self.verilog).read_text()

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.text.encode()).hexdigest()[:12]

    def port(self, name: str) -> Port:
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(f"{self.module}: no port {name!r}")

    def with_verilog(self, path: Path, label: str) -> "Design":
        """The same design read from another (e.g. patched) file."""
        return Design(self.module, Path(path), self.ports, self.shape, self.cycles_per_step,
                      label, self.manifest, self.config)


def design_from_verilog(path, module: str, shape: StreamShape, cycles_per_step=None,
                        label: str = "", manifest=None, config=None) -> Design:
    """A :class:`Design` from a Verilog file; checks the stream ports exist with the shape's widths."""
    path = Path(path).resolve()
    ports = tuple(parse_ports(path.read_text(), module))
    names = {p.name: p for p in ports}
    missing = [n for n in STREAM_PORTS if n not in names]
    if missing:
        raise ValueError(f"{path.name}: module {module} lacks stream port(s) {missing}")
    want = {"in_tdata": shape.in_count * shape.in_bits, "out_tdata": shape.out_count * shape.out_bits,
            "wr_addr": shape.addr_bits, "wr_data": shape.data_bits}
    for n, w in want.items():
        if names[n].width != w:
            raise ValueError(f"{path.name}: port {n} is {names[n].width} bits, expected {w}")
    return Design(module, path, ports, shape, cycles_per_step, label or module, manifest, config)


def source_digest(*packages: str) -> str:
    """Hash of every ``*.py`` under the named top-level packages (conversion cache key)."""
    h = hashlib.sha1()
    for pkg in packages:
        for f in sorted((REPO / pkg).rglob("*.py")):
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def converted(cfg, root: Path | None = None) -> tuple:
    """Convert either engine's configuration once (cached by the hdl and golden sources).

    Returns the Verilog file and the manifest (a dict, or None when absent).
    """
    from hdl.convert import convert_design

    root = Path(root) if root else build_root()
    final = root / "designs" / f"{cfg.module_name}-{source_digest('hdl', 'golden')}"
    verilog = final / f"{cfg.module_name}.v"
    if not verilog.is_file():
        tmp = private_dir(final.parent, cfg.module_name)
        convert_design(cfg, tmp)
        if not (tmp / f"{cfg.module_name}.v").is_file():
            raise RuntimeError(f"convert_design did not write {cfg.module_name}.v into {tmp}")
        publish_dir(tmp, final)
    manifest_path = final / f"{cfg.module_name}.manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    return verilog, manifest


def engine_design(cfg, root: Path | None = None) -> Design:
    """Convert an :class:`hdl.config.EngineConfig` once (cached) and describe it."""
    verilog, manifest = converted(cfg, root)
    return design_from_verilog(verilog, cfg.module_name, engine_shape(cfg), cfg.cycles_per_step, "engine",
                               manifest, cfg)


def engine_shape(cfg) -> StreamShape:
    """The stream shape of the single-layer engine for ``cfg``."""
    fm = cfg.fmts
    return StreamShape(cfg.input_size, fm.vec.word_bits, cfg.hidden_size, fm.vec.word_bits,
                       cfg.addr_bits, fm.weight.word_bits)


def cached_build(kind: str, design: Design, files: dict, build, extra_key: str = "") -> Path:
    """Build folder for ``design`` keyed by its text, ``files`` and ``extra_key``.

    ``files`` (name -> text) are written beside a copy of the design; ``build(folder)``
    runs the tool in that private folder, which is then published atomically.
    """
    h = hashlib.sha1(design.text.encode())
    for name in sorted(files):
        h.update(name.encode())
        h.update(files[name].encode())
    h.update(extra_key.encode())
    final = build_root() / kind / f"{design.module}-{h.hexdigest()[:12]}"
    stamp = final / "BUILT"
    if stamp.is_file():
        return final
    tmp = private_dir(final.parent, design.module)
    (tmp / "dut.v").write_text(design.text)
    for name, text in files.items():
        (tmp / name).write_text(text)
    build(tmp)
    (tmp / "BUILT").write_text(f"{design.label}\n{design.verilog}\n")
    publish_dir(tmp, final)
    return final


def compile_icarus(design: Design) -> Path:
    """``vvp`` image of the design inside its cosimulation wrapper (cached)."""
    from .icarus import wrapper_verilog, WRAPPER_PREFIX

    top = WRAPPER_PREFIX + design.module
    wrapper = wrapper_verilog(design)

    def build(folder: Path):
        run_tool(["iverilog", "-g2005", "-Wimplicit", "-s", top, "-o", "sim.vvp", "wrapper.v", "dut.v"],
                 cwd=folder, timeout=600, what=f"iverilog ({design.label})")

    return cached_build("icarus", design, {"wrapper.v": wrapper}, build,
                        tool_version("iverilog")) / "sim.vvp"
