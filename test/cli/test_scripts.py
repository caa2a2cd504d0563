"""scripts/ holds shell recipes (and the generator of one test fixture, which needs code from
outside this repository); every tool of the project is a `fartrack` subcommand. The scripts the
README and docs/ name exist and run as written there (executable, with a shebang)."""
from __future__ import annotations

import os
import re

from cli_data import ROOT

SCRIPTS = ROOT / "scripts"
FIXTURE_GENERATOR = "official_video_fixture.py"     # imports the official code from a given checkout


def named_scripts() -> set[str]:
    texts = [(ROOT / "README.md").read_text()] + [p.read_text() for p in (ROOT / "docs").glob("*.md")]
    return {name for text in texts for name in re.findall(r"scripts/([A-Za-z0-9_.-]+\.(?:sh|py))", text)}


def test_scripts_are_shell_recipes_only():
    others = sorted(p.name for p in SCRIPTS.iterdir() if p.suffix != ".sh" and p.name != FIXTURE_GENERATOR)
    assert others == [], "a Python tool belongs in a fartrack subcommand (fartrack_ros/cli/)"
    assert (SCRIPTS / FIXTURE_GENERATOR).is_file()


def test_the_fixture_generator_leaves_sys_path_to_the_official_checkout():
    text = (SCRIPTS / FIXTURE_GENERATOR).read_text()
    assert text.count("sys.path.insert") == 1          # only the official checkout and its --site


def test_every_named_script_exists_and_runs_as_written():
    names = named_scripts()
    assert "setup_env.sh" in names and FIXTURE_GENERATOR in names
    for name in names:
        script = SCRIPTS / name
        assert script.is_file(), f"docs name scripts/{name}, which does not exist"
        if name.endswith(".sh"):
            assert script.read_text().startswith("#!"), script
            assert os.access(script, os.X_OK), f"{script} is not executable"
