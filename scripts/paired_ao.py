#!/usr/bin/env python3
"""Kept for old command lines: the same as ``fartrack compare ...`` (see ``fartrack compare --help``)."""
from __future__ import annotations

import sys

try:
    from fartrack_ros.cli import main
except ImportError:                    # not the project's Python: run again with .venv/bin/python
    from _venv import rerun_with_project_python
    rerun_with_project_python()

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
