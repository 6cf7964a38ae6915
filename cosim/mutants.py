"""Planted bugs: patched copies of a converted design, to prove the regression can fail.

A :class:`Mutant` is a regular-expression substitution on the generated Verilog with
the number of matches it must make; :func:`mutant_design` applies it to a copy under
``build/cosim/mutants/`` (the source tree and the cached original stay untouched) and
refuses a mutant whose pattern no longer matches or leaves the text unchanged, so a
stale pattern can never pass as "killed".  The engine's catalogue lives with the
engine (:data:`cosim.engine.ENGINE_MUTANTS`); :func:`kill` runs a list of checks
against one mutant and says which check caught it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .compile import Design
from .paths import build_root
from .scoreboard import MismatchError

#: The kinds of planted bug the regression must catch.
KINDS = ("gates swapped", "truncation instead of rounding", "wrap instead of saturation",
         "bias dropped", "counter off by one", "tready ignored", "state not cleared",
         "handshake one cycle late")


class MutantError(ValueError):
    """A mutant's pattern did not apply as declared (stale against the generated Verilog)."""


@dataclass(frozen=True)
class Mutant:
    """A planted bug: one or more regular-expression edits of the generated Verilog.

    Attributes
    ----------
    name : str
        Short identifier (used in file names and reports).
    kind : str
        One of :data:`KINDS`.
    description : str
        What the bug does to the hardware, in one sentence.
    pattern, replacement : str
        The first edit: ``re.sub`` arguments (multiline mode); ``replacement`` may be a
        function of the match.
    count : int or None
        Exact number of matches the first edit must make; None for "at least one".
    more : tuple of (pattern, replacement, count)
        Further edits, each held to its own count.
    """

    name: str
    kind: str
    description: str
    pattern: str
    replacement: object
    count: int | None = 1
    more: tuple = ()

    @property
    def edits(self) -> tuple:
        return ((self.pattern, self.replacement, self.count),) + tuple(self.more)

    def apply(self, text: str) -> str:
        original = text
        for pattern, replacement, count in self.edits:
            text, n = re.subn(pattern, replacement, text, flags=re.M)
            if n == 0:
                raise MutantError(f"mutant {self.name}: pattern {pattern!r} matches nothing "
                                  "in the generated Verilog (update the catalogue)")
            if count is not None and n != count:
                raise MutantError(f"mutant {self.name}: pattern {pattern!r} matched {n} times, "
                                  f"declared {count}")
        if text == original:
            raise MutantError(f"mutant {self.name}: the edits leave the text unchanged")
        return text


def mutant_design(design: Design, mutant: Mutant) -> Design:
    """The design with ``mutant`` applied, in a file of its own under build/cosim/mutants/."""
    text = mutant.apply(design.text)
    folder = build_root() / "mutants" / f"{design.module}-{design.digest}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mutant.name}.v"
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_suffix(".v.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return design.with_verilog(path, f"mutant {mutant.name}")


def changed_lines(design: Design, mutant: Mutant) -> list:
    """The (old, new) line pairs the mutant changes, for the report."""
    old = design.text.splitlines()
    new = mutant.apply(design.text).splitlines()
    if len(old) != len(new):
        return [("(line count changed)", "")]
    return [(a.strip(), b.strip()) for a, b in zip(old, new) if a != b]


def kill(mutated: Design, checks) -> str | None:
    """Run ``checks`` (name, callable(design)) in order; the name of the first that fails.

    A check fails by raising :class:`MismatchError` or ``AssertionError``; any other
    exception (the mutant does not compile, a tool broke) propagates, so a broken
    mutant is never counted as killed.
    """
    for name, run in checks:
        try:
            run(mutated)
        except MismatchError as exc:
            rep = exc.report
            if rep.mismatch is not None:
                m = rep.mismatch
                what = (f"beat #{m.beat} differs in {len(m.differing())} of {len(m.expected)} elements"
                        if m.differing() else f"beat #{m.beat} has the wrong tlast")
            else:
                what = rep.problems[0] if rep.problems else "mismatch"
            return f"{name}: {what[:110]}"
        except AssertionError as exc:
            return f"{name}: {str(exc).splitlines()[0][:110]}"
    return None
