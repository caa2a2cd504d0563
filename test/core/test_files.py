"""Temporary names for files that several processes may write at once (shared export cache)."""
import subprocess
import sys

from fartrack_ros.core.files import temporary_sibling


def test_temporary_sibling_is_hidden_next_to_the_file_and_new_each_time(tmp_path):
    target = tmp_path / "graph.onnx"
    names = {temporary_sibling(target) for _ in range(50)}
    assert len(names) == 50
    assert all(n.parent == tmp_path and n.name.startswith(".graph.onnx.") for n in names)


def test_temporary_sibling_differs_between_processes(tmp_path):
    # two workers exporting the same graph must never write into one temporary file
    target = tmp_path / "graph.onnx"
    code = "import sys; from fartrack_ros.core.files import temporary_sibling; print(temporary_sibling(sys.argv[1]))"
    theirs = {subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                             check=True).stdout.strip() for _ in range(2)}
    assert len(theirs) == 2 and str(temporary_sibling(target)) not in theirs
