"""Where co-simulation puts what it generates (always under the git-ignored build/)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_ENV = "LSTM_CHIPLET_BUILD"


def build_root() -> Path:
    """``build/cosim`` at the repository root, or ``$LSTM_CHIPLET_BUILD/cosim``.

    When the package runs from an installed copy (e.g. inside tox's environment) its
    parent is site-packages, not the repository: then ``build/`` of the current
    directory is used.
    """
    if os.environ.get(BUILD_ENV):
        base = Path(os.environ[BUILD_ENV])
    elif (REPO / "setup.cfg").is_file():
        base = REPO / "build"
    else:
        base = Path.cwd() / "build"
    path = base / "cosim"
    path.mkdir(parents=True, exist_ok=True)
    return path


def publish_dir(tmp: Path, final: Path) -> Path:
    """Move a finished temporary folder into place; if another process won, keep theirs.

    Cached artefacts are built in a private temporary folder and renamed, so a reader
    never sees a half-written cache entry even when several runs share build/.
    """
    try:
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def private_dir(parent: Path, prefix: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=parent))
