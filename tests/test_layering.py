"""The packages depend one way: golden <- hdl <- cosim <- lstm_chiplet.

Every ``.py`` file of the four packages is parsed (never imported) and every import in
it is checked, wherever it stands (module level, inside a function, under ``if``),
absolute or relative, and ``importlib.import_module`` / ``__import__`` with a constant
name.  golden, the numerical contract, imports nothing but the standard library, numpy
and fxpmath.
"""

import ast
import importlib.util
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Lower layers first: a package may import only its own layer and the ones before it.
LAYERS = ("golden", "hdl", "cosim", "lstm_chiplet")
#: What golden may import besides itself and the standard library.
GOLDEN_THIRD_PARTY = ("numpy", "fxpmath")


def _is_stdlib(name: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return name in names
    spec = importlib.util.find_spec(name)                # Python < 3.10
    if spec is None or spec.origin is None:
        return False
    if spec.origin in ("built-in", "frozen"):
        return True
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    origin = Path(spec.origin).resolve()
    return stdlib in origin.parents and "site-packages" not in origin.parts


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(rel: Path, source: str):
    """(line, module) for every import in ``source``, the file ``rel`` of the repository.

    Relative imports are resolved against the file's package: ``from ..m import a``
    yields the module m beside the package, ``from . import a`` yields the package's a.
    """
    module = _module_name(rel)
    package = module if rel.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, filename=str(rel))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = parts[:max(0, len(parts) - (node.level - 1))]
                if node.module:
                    yield node.lineno, ".".join(base + [node.module])
                else:
                    for alias in node.names:
                        yield node.lineno, ".".join(base + [alias.name])
            else:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str) and not first.value.startswith("."):
                yield node.lineno, first.value


def violations(rel: Path, source: str):
    """``file:line: ...`` for every import of ``source`` against the layering."""
    layer = rel.parts[0]
    rank = LAYERS.index(layer)
    for line, target in imported_modules(rel, source):
        top = target.split(".")[0]
        if top in LAYERS and LAYERS.index(top) > rank:
            yield (f"{rel.as_posix()}:{line}: imports {target} ({layer} may not import {top}: "
                   f"the layers are {' <- '.join(LAYERS)})")
        elif layer == "golden" and top not in LAYERS and top not in GOLDEN_THIRD_PARTY \
                and not _is_stdlib(top):
            yield (f"{rel.as_posix()}:{line}: imports {target} (golden imports only the standard "
                   f"library, {', '.join(GOLDEN_THIRD_PARTY)})")


def _sources():
    for layer in LAYERS:
        for path in sorted((REPO / layer).rglob("*.py")):
            yield path.relative_to(REPO), path.read_text()


def test_every_package_is_found():
    found = {rel.parts[0] for rel, _ in _sources()}
    assert found == set(LAYERS)


def test_imports_point_down_the_layers():
    bad = [v for rel, src in _sources() for v in violations(rel, src)]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


# A planted import of each kind must be caught, with its file and line.
PLANTED = [
    ("golden/formats.py", "import hdl.config\n", "golden/formats.py:1: imports hdl.config"),
    ("golden/formats.py", "def f():\n    from cosim import stream\n",
     "golden/formats.py:2: imports cosim"),
    ("golden/formats.py", "import matplotlib.pyplot\n",
     "golden/formats.py:1: imports matplotlib.pyplot (golden imports only"),
    ("golden/formats.py", "import scipy\n", "imports scipy"),
    ("hdl/convert.py", "from lstm_chiplet.models import store\n",
     "hdl/convert.py:1: imports lstm_chiplet.models"),
    ("hdl/sub/block.py", "from ...cosim import tools\n", "hdl/sub/block.py:1: imports cosim"),
    ("cosim/bench.py", "if True:\n    import importlib\n    importlib.import_module('lstm_chiplet.cli')\n",
     "cosim/bench.py:3: imports lstm_chiplet.cli"),
    ("lstm_chiplet/workload/x.py", "from .. import cli\nfrom ... import hdl\n", None),
    ("golden/formats.py", "import math\nimport numpy as np\nfrom fxpmath import Fxp\nfrom . import lstm_float\n",
     None),
]


@pytest.mark.parametrize("rel, source, message", PLANTED,
                         ids=["golden-hdl", "golden-cosim-in-function", "golden-matplotlib", "golden-scipy",
                              "hdl-lstm_chiplet", "hdl-relative-cosim", "cosim-import_module",
                              "front-end-may-import-down", "golden-allowed"])
def test_planted_imports_are_caught(rel, source, message):
    found = list(violations(Path(rel), source))
    if message is None:
        assert found == []
    else:
        assert len(found) == 1 and message in found[0], found
