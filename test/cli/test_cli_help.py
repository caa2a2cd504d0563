"""Help texts: examples that parse, every default stated, the same option typed the same way,
`fartrack --version`."""
from __future__ import annotations

import argparse
import shlex
from importlib.metadata import version

import pytest
from cli_data import fartrack

from fartrack_ros.cli import build_parser, join_negative_values
from fartrack_ros.cli.common import BACKENDS, DEVICES, VARIANTS

COMMANDS = ["track", "convert", "export", "train", "demo", "make-dataset", "bench-node", "compare", "box-sizes",
            "precision"]


def example_commands(epilog: str) -> list[list[str]]:
    """The `fartrack ...` lines of an examples block, continuation lines joined, comments cut."""
    text = epilog.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("fartrack "):
            commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("name", COMMANDS)
def test_help_runs_and_shows_examples(name):
    proc = fartrack(name, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "\nexamples:\n" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_examples_parse_and_defaults_are_stated(name):
    parser, parsers = build_parser()
    sub = parsers[name]
    examples = example_commands(sub.epilog or "")
    assert examples, f"{name}: no fartrack example in --help"
    for argv in examples:
        args = parser.parse_args(join_negative_values(argv))
        assert args.command == argv[0], argv
    in_required_group = {a for g in sub._mutually_exclusive_groups if g.required
                         for a in g._group_actions}
    for action in sub._actions:
        if (not action.option_strings or action.required or action in in_required_group
                or isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction,
                                       argparse._AppendAction))):
            continue
        assert action.help and "default" in action.help, (name, action.option_strings, action.help)
        if action.default is not None and action.help and "%(default)" not in action.help:
            shown = f"{action.default:g}" if isinstance(action.default, float) else str(action.default)
            if isinstance(action.default, tuple):
                shown = "x".join(map(str, action.default))
            assert shown in action.help, (name, action.option_strings, action.help)


@pytest.mark.parametrize("name", COMMANDS)
def test_shared_options_have_the_same_type(name):
    _, parsers = build_parser(name)
    actions = {s: a for a in parsers[name]._actions for s in a.option_strings}
    if "--device" in actions:
        assert tuple(actions["--device"].choices) == DEVICES
    if "--variant" in actions:
        assert tuple(actions["--variant"].choices) == VARIANTS
    if "--backend" in actions:
        assert tuple(actions["--backend"].choices) == ("auto",) + BACKENDS
    if "--threads" in actions:
        kind = actions["--threads"].type
        assert kind("2") == 2
        for bad in ("-1", "two"):
            with pytest.raises(argparse.ArgumentTypeError):
                kind(bad)
    if "--max-frames" in actions:
        with pytest.raises(argparse.ArgumentTypeError):
            actions["--max-frames"].type("0")


def test_backend_choices_are_the_registered_backends():
    from fartrack_ros.runtime.backends import known_backends

    assert sorted(BACKENDS) == known_backends()


def test_version():
    proc = fartrack("--version", timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fartrack {version('fartrack')}"


def test_negative_values_join_only_after_an_option():
    assert join_negative_values(["track", "--box", "-10,5,40,60"]) == ["track", "--box=-10,5,40,60"]
    assert join_negative_values(["track", "--box", "-1.5, 2,3,4"]) == ["track", "--box=-1.5, 2,3,4"]
    assert join_negative_values(["track", "-h"]) == ["track", "-h"]
    assert join_negative_values(["--box=-1,2,3,4"]) == ["--box=-1,2,3,4"]
