"""The import rules of docs/architecture.md hold for every module of the package.

The rules are read from the layer table of docs/architecture.md, so the table and this test
cannot drift apart; every import (module level and inside functions) is found with ``ast``.
"""
from __future__ import annotations

import ast
import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fartrack_ros"
DOC = ROOT / "docs" / "architecture.md"
LAYER_ORDER = ("core", "data", "config", "weights", "model", "runtime", "training", "evaluation", "ros", "cli")
# Besides the layers: the package's own top-level modules (``fartrack_ros/__init__.py`` imports
# nothing of the package, ``__main__.py`` is the ``python -m fartrack_ros`` entry to the CLI).
TOP_LEVEL = {"__init__": "root", "__main__": "cli"}
# The module the backend registry loads by name: the one place a lazy package may be imported at
# module level.
LAZY_LOADED_MODULE = "fartrack_ros.runtime.backends.onnx_backend"


@dataclass(frozen=True)
class Rules:
    layers: dict[str, frozenset[str]]      # layer -> project layers it may import
    packages: dict[str, frozenset[str]]    # layer -> third-party top-level names it may import
    ros_patterns: tuple[str, ...]          # ROS packages (fnmatch), ros layer only
    lazy: frozenset[str]                   # third-party names imported only lazily


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def read_rules(doc: Path = DOC) -> Rules:
    rows = []
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`fartrack_ros."):
            rows.append(cells)
    names = [row[0] for row in rows]
    assert tuple(names) == LAYER_ORDER, f"layer table of {doc.name}: {names}"
    layers: dict[str, frozenset[str]] = {}
    own: dict[str, set[str]] = {}
    ros_patterns: list[str] = []
    lazy: set[str] = set()
    for i, (name, package, may_layers, may_packages) in enumerate(rows):
        assert package == f"`fartrack_ros.{name}`", package
        if may_layers.startswith("every layer above"):
            layers[name] = frozenset(names[:i])
        elif may_layers.startswith("every layer"):
            layers[name] = frozenset(names) - {name}
        elif may_layers == "none":
            layers[name] = frozenset()
        else:
            layers[name] = frozenset(_ticked(may_layers))
            assert layers[name] <= set(names[:i]), f"{name} may import a layer below it: {may_layers}"
        if name == "ros":
            ros_patterns = _ticked(may_packages)
            own[name] = set()
        elif may_packages.startswith("those of every layer"):
            own[name] = set()
        else:
            ticked = _ticked(may_packages)
            own[name] = set(ticked)
            if "lazily*" in may_packages:
                lazy |= set(ticked)
    packages = {}
    for name in names:
        reachable = layers[name] | {name}
        if name == "cli":
            reachable = set(names)
        packages[name] = frozenset(set().union(*(own[n] for n in reachable)))
    return Rules(layers, packages, tuple(ros_patterns), frozenset(lazy))


@dataclass(frozen=True)
class Import:
    module: str        # importing module, dotted
    line: int
    target: str        # imported module, dotted and absolute
    module_level: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, source: str | None = None) -> list[Import]:
    """Every import statement of one file, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    found = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = module_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(name, child.lineno, a.name, module_level) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                # ``from fartrack_ros import core``, ``from .backends import onnx_backend``: the
                # imported submodule is the target
                submodules = [f"{target}.{a.name}" for a in child.names
                              if target.startswith("fartrack_ros") and _is_module(f"{target}.{a.name}")]
                found.extend(Import(name, child.lineno, t, module_level) for t in submodules or [target])
            visit(child, inside)

    visit(tree, True)
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    return TOP_LEVEL.get(parts[1], parts[1])


def is_ros_package(target: str, rules: Rules) -> bool:
    parts = target.split(".")
    top = ".".join(parts[:2]) if parts[0] == "fartrack_ros" else parts[0]   # fartrack_ros.msg
    return any(fnmatch.fnmatchcase(top, pattern) for pattern in rules.ros_patterns)


def violations(imp: Import, rules: Rules) -> list[str]:
    """What is wrong with one import, as readable lines (empty when it follows the rules)."""
    where = f"{imp.module}:{imp.line} imports {imp.target}"
    layer = layer_of(imp.module)
    if is_ros_package(imp.target, rules):
        return [] if layer == "ros" else [f"{where}: ROS packages only under fartrack_ros/ros/"]
    top = imp.target.split(".")[0]
    if top == "fartrack_ros":
        target_layer = layer_of(imp.target)
        if imp.target == LAZY_LOADED_MODULE:
            return [f"{where}: loaded by name only (it imports onnxruntime at module level)"]
        if target_layer == layer or target_layer == "root":
            return []
        if layer == "root":
            return [f"{where}: fartrack_ros/__init__.py imports nothing of the package"]
        if target_layer not in rules.layers[layer]:
            return [f"{where}: layer {layer} may not import layer {target_layer}"]
        return []
    if top == "__future__" or top in sys.stdlib_module_names:
        return []
    if top not in rules.packages.get(layer, frozenset()):
        return [f"{where}: package {top} is not allowed in layer {layer}"]
    if top in rules.lazy and imp.module_level and imp.module != LAZY_LOADED_MODULE:
        return [f"{where}: {top} must be imported lazily (inside a function)"]
    return []


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return read_rules()


def test_the_table_reads_as_documented(rules):
    assert rules.layers["core"] == frozenset()
    assert rules.layers["model"] == {"core", "config"}
    assert rules.layers["ros"] == set(LAYER_ORDER[:-2])
    assert rules.layers["cli"] == set(LAYER_ORDER) - {"cli"}
    assert rules.packages["core"] == {"numpy", "cv2"}
    assert {"torch", "numpy", "yaml"} <= rules.packages["model"] and "onnxruntime" not in rules.packages["model"]
    assert "rclpy" in rules.ros_patterns and "torch" not in rules.packages["config"]
    assert rules.lazy == {"onnx", "onnxruntime", "google", "rosbags"}


def test_every_package_of_the_tree_is_a_layer_of_the_table(rules):
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    top_modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert subpackages | (top_modules - set(TOP_LEVEL)) == set(LAYER_ORDER)


def test_every_import_follows_the_layer_rules(rules):
    found = all_imports()
    assert len(found) > 300           # the walk saw the package (module level and in functions)
    assert any(not imp.module_level for imp in found)
    problems = [line for imp in found for line in violations(imp, rules)]
    assert problems == [], "\n".join(problems)


def test_rclpy_and_messages_are_imported_under_ros_only(rules):
    users = {layer_of(imp.module) for imp in all_imports() if is_ros_package(imp.target, rules)}
    assert users == {"ros"}



def test_the_node_modules_never_import_the_ros_tools():
    """docs/architecture.md: fartrack_ros.ros.tools (demo, session, camera, client, bench) sits
    beside the node adapter; the tools may use the node's modules, never the other way round."""
    tools = "fartrack_ros.ros.tools"
    assert _is_module(tools)
    problems = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in all_imports()
                if layer_of(imp.module) == "ros" and not imp.module.startswith(tools)
                and (imp.target == tools or imp.target.startswith(tools + "."))]
    assert problems == [], "\n".join(problems)

@pytest.mark.parametrize("module, source, expected", [
    ("core/bad.py", "import rclpy\n", "ROS packages only"),
    ("core/bad.py", "def f():\n    from sensor_msgs.msg import Image\n", "ROS packages only"),
    ("runtime/bad.py", "from ..ros import node\n", "may not import layer ros"),
    ("model/bad.py", "from ..runtime.tracker import build_tracker\n", "may not import layer runtime"),
    ("config.py", "import torch\n", "package torch is not allowed"),
    ("runtime/bad.py", "import onnxruntime\n", "must be imported lazily"),
    ("runtime/bad.py", "from .backends import onnx_backend\n", "loaded by name only"),
    ("evaluation/bad.py", "from fartrack_ros import ros\n", "may not import layer ros"),
    ("cli/bad.py", "from fartrack_ros.srv import SetTarget\n", "ROS packages only"),
])
def test_the_checker_finds_violations(rules, module, source, expected):
    path = PACKAGE / module
    problems = [line for imp in imports_of(path, source) for line in violations(imp, rules)]
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize("module, source", [
    ("runtime/ok.py", "def f():\n    import onnxruntime\n"),
    ("ros/ok.py", "import rclpy\nfrom vision_msgs.msg import Detection2D\nfrom fartrack_ros.msg import X\n"),
    ("cli/ok.py", "from ..ros import node\nimport matplotlib\n"),
    ("training/ok.py", "from ..runtime.preprocess import normalize\nimport yaml, tqdm, torch\n"),
])
def test_the_checker_accepts_allowed_imports(rules, module, source):
    path = PACKAGE / module
    assert [line for imp in imports_of(path, source) for line in violations(imp, rules)] == []
