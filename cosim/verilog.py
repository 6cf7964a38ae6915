"""Port lists of converted Verilog modules (MyHDL's output style) and small text helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    """One top-level port: name, ``input``/``output``, width in bits, signedness."""

    name: str
    direction: str
    width: int
    signed: bool = False

    @property
    def decl_range(self) -> str:
        return f"[{self.width - 1}:0] " if self.width > 1 else ""


_DECL = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(signed\s+)?"
                   r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*;", re.M)


def module_text(text: str, module: str) -> str:
    """The text of ``module`` (from ``module`` to its ``endmodule``) inside a file."""
    m = re.search(rf"^\s*module\s+{re.escape(module)}\b", text, re.M)
    if not m:
        raise ValueError(f"module {module!r} not found in the Verilog text")
    end = text.find("endmodule", m.end())
    if end < 0:
        raise ValueError(f"module {module!r} has no endmodule")
    return text[m.start():end + len("endmodule")]


def parse_ports(text: str, module: str) -> list:
    """Ports of ``module`` in header order, from its ``input``/``output`` declarations."""
    body = module_text(text, module)
    header = re.match(r"\s*module\s+\w+\s*\((.*?)\)\s*;", body, re.S)
    if not header:
        raise ValueError(f"module {module!r}: cannot read its port list")
    order = [p.strip() for p in header.group(1).split(",") if p.strip()]
    decls = {}
    for d in _DECL.finditer(body):
        direction, signed, msb, lsb, name = d.groups()
        width = int(msb) - int(lsb) + 1 if msb is not None else 1
        decls[name] = Port(name, direction, width, bool(signed))
    missing = [p for p in order if p not in decls]
    if missing:
        raise ValueError(f"module {module!r}: no declaration for port(s) {missing}")
    return [decls[p] for p in order]


def to_unsigned(value: int, width: int) -> int:
    """Two's-complement bit pattern of ``value`` in ``width`` bits (range-checked)."""
    lo, hi = -(1 << (width - 1)), (1 << width) - 1
    if not lo <= value <= hi:
        raise ValueError(f"value {value} does not fit {width} bits")
    return value & ((1 << width) - 1)


def pack_words(values, word_bits: int) -> int:
    """Signed elements, element k in bits [(k+1)W-1 : kW], two's complement (the engine's packing)."""
    word = 0
    lo, hi = -(1 << (word_bits - 1)), (1 << (word_bits - 1)) - 1
    for k, v in enumerate(values):
        if not lo <= int(v) <= hi:
            raise ValueError(f"element {k}: value {int(v)} does not fit {word_bits}-bit two's complement")
        word |= (int(v) & ((1 << word_bits) - 1)) << (k * word_bits)
    return word


def unpack_words(word: int, count: int, word_bits: int, signed: bool = True) -> tuple:
    """Inverse of :func:`pack_words`."""
    mask = (1 << word_bits) - 1
    out = []
    for k in range(count):
        v = (word >> (k * word_bits)) & mask
        if signed and v >> (word_bits - 1):
            v -= 1 << word_bits
        out.append(v)
    return tuple(out)
