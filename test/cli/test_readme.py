"""The README as a user's manual: the two commands first, every `fartrack` command it shows
parses, the official checkpoints are described, the node's interface tables are there, and no
file of the project points to documents outside the repository."""
from __future__ import annotations

import re
import shlex
import subprocess

import pytest
from cli_data import ROOT

from fartrack_ros.cli import build_parser, join_negative_values

README = (ROOT / "README.md").read_text()


def code_lines(text: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]


def test_the_two_commands_come_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]
    assert README.index("## What `make demo` shows") < README.index("## The ROS 2 node")
    assert "out/demo/" in README


def test_every_fartrack_command_in_the_readme_parses():
    parser, _ = build_parser()
    checked = 0
    for line in code_lines(README):
        line = line.split("#", 1)[0].strip()
        for prefix in (".venv/bin/fartrack ", "fartrack "):
            if line.startswith(prefix) and "[" not in line and "..." not in line:
                args = parser.parse_args(join_negative_values(shlex.split(line[len(prefix):])))
                assert args.command, line
                checked += 1
    assert checked >= 15


def test_official_checkpoints_are_described():
    section = README[README.index("## Weights"):README.index("## Track your own")]
    for name in ("MIV-XJTU/FARTrack", "FARTrackSparse_ep0015.pth.tar", "FARTrackDistill_",
                 "FARTrack_", "--weights", "fartrack convert"):
        assert name in section, name


def test_track_section_covers_every_input_and_results_format():
    section = README[README.index("## Track your own"):README.index("## The ROS 2 node")]
    from fartrack_ros.cli.track import RESULT_FORMATS

    for word in ("--video 0", "rtsp://", "--bag", "--topic", "--start-frame", "--box", "Ctrl-C",
                 "--results-format", *(f"`{f}`" for f in RESULT_FORMATS)):
        assert word in section, word


def test_node_interface_tables_are_kept():
    for row in ("| `image` (sub) |", "| `~/detections` (pub) |", "| `~/status` (pub) |",
                "| `~/set_target` (srv) |", "| `~/stop` (srv) |", "| `~/target` (sub) |",
                "| `weights` |", "| `lost_threshold` |", "| `frame_history` |"):
        assert row in README, row


def test_manual_has_no_diary_or_outside_references():
    for pattern in (r"\.\./", r"\bspec \d", r"\bsessions?\b", r"\bissues?\b", r"\bshared folder\b",
                    r"\bworkplace\b"):
        assert not re.search(pattern, README, re.I), pattern


# A user has neither the workplace's shared folder nor the specification the code was written
# from: the reason belongs in the code or in docs/.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared\b|/work/shared|\bthe workplace\b|fartrack-spec"
                               r"|\bspec (sections?|trap|App\b|\d)|\bspec: `")


def test_no_file_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    offenders = []
    for name in files:
        path = ROOT / name
        if path.suffix in (".npz", ".safetensors", ".png", ".jpg", ".avi", ".mp4", ".onnx") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if OUTSIDE_REFERENCE.search(text) and name != "test/cli/test_readme.py":   # its examples
            offenders.append(name)
    assert offenders == []


@pytest.mark.parametrize("text", ["see ../shared/guide.md", "as in /work/shared/x", "(spec 6.3)",
                                  "spec section 7", "spec trap 1", "(spec App. B)", "spec: `5d3e4b9`"])
def test_outside_references_are_recognised(text):
    assert OUTSIDE_REFERENCE.search(text)
    assert not OUTSIDE_REFERENCE.search("for spec in specs: build_eval_tracker(spec)")
