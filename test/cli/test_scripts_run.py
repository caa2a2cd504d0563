"""The scripts the README names run as written there (``scripts/NAME.py ...``), from a shell whose
``python3`` is not the project's venv."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_data import ROOT

README_SCRIPTS = sorted(set(re.findall(r"scripts/([a-z_]+\.py)", (ROOT / "README.md").read_text())))


def user_shell_env() -> dict:
    """PATH without the venv (as in a fresh shell), no VIRTUAL_ENV, no PYTHONPATH."""
    venv_bin = str(ROOT / ".venv" / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p).resolve() != Path(venv_bin).resolve())
    return env


def test_readme_names_scripts():
    assert "paired_ao.py" in README_SCRIPTS and "box_size_check.py" in README_SCRIPTS


@pytest.mark.parametrize("name", README_SCRIPTS)
def test_readme_script_runs_as_written(name):
    script = ROOT / "scripts" / name
    assert script.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(script, os.X_OK), f"{script} is not executable"
    proc = subprocess.run([f"scripts/{name}", "--help"], cwd=ROOT, env=user_shell_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")


def test_box_size_check_on_a_track_results_file(tmp_path):
    results = tmp_path / "track.txt"
    results.write_text("".join(f"{10 + i},{20 + i},{30 + i % 3},40\n" for i in range(250)))
    proc = subprocess.run(["python3", "scripts/box_size_check.py", "--video-results", str(results)],
                          cwd=ROOT, env=user_shell_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(results) in proc.stdout


def test_without_the_venv_the_script_says_how_to_run_it(tmp_path):
    base = getattr(sys, "_base_executable", None) or shutil.which("python3")
    probe = subprocess.run([base, "-c", "import fartrack_ros"], capture_output=True,
                           env=user_shell_env(), cwd=tmp_path)
    if probe.returncode == 0:
        pytest.skip(f"{base} imports fartrack_ros itself")
    scripts = tmp_path / "repo" / "scripts"          # a checkout without .venv
    scripts.mkdir(parents=True)
    for name in ("paired_ao.py", "_venv.py"):
        shutil.copy(ROOT / "scripts" / name, scripts / name)
    proc = subprocess.run([base, "scripts/paired_ao.py", "--help"], cwd=tmp_path / "repo",
                          env=user_shell_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "make env, then .venv/bin/python scripts/paired_ao.py" in lines[0]
