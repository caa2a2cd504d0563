"""Temporary names for files that several processes may write at once (shared export cache)."""
import subprocess
import sys

from fartrack_ros.core.files import replaced_atomically, temporary_sibling


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


def test_replaced_atomically_replaces_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "weights.safetensors"
    target.write_text("old")
    with replaced_atomically(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"           # readers see the old file until the end
    assert target.read_text() == "new"
    try:
        with replaced_atomically(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer killed")
    except RuntimeError:
        pass
    assert target.read_text() == "new" and sorted(tmp_path.iterdir()) == [target]
