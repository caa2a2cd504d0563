"""Lets the scripts in this folder run as ``scripts/NAME.py`` (or ``python3 scripts/NAME.py``)
with any Python: when the project's packages do not import there, the script runs again with the
repository's ``.venv/bin/python`` (created by ``make env``); without that venv it stops with one
line saying so. Each script calls :func:`rerun_with_project_python` from the ``except
ImportError`` around its imports, so nothing changes where the packages import (the tests)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
_GUARD = "FARTRACK_SCRIPT_RERUN"


def rerun_with_project_python() -> None:
    """Replace this process by the same script under .venv/bin/python, or exit with one line."""
    error = sys.exc_info()[1]
    script = Path(sys.modules["__main__"].__file__).resolve()
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if VENV_PYTHON.is_file() and not in_venv and not os.environ.get(_GUARD):
        os.environ[_GUARD] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(script), *sys.argv[1:]])
    rel = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    sys.exit(f"{script.name}: {error}; run it with the project's Python: make env, then "
             f".venv/bin/python {rel}")
