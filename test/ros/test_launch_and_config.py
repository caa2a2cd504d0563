"""Launch files and parameter files. `launch` / `launch_ros` cannot be installed here (no
wheels), so the launch files are checked by parsing them; the parameter files are checked
against the node's parameter table and by starting the node with each of them.
"""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import DOMAIN_ID, ROOT, random_weights, start_node  # noqa: F401 (fixtures)

import ast
import re
from pathlib import Path

import pytest
import yaml

from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.parameters import (LIFECYCLE_PARAMETERS, NODE_PARAMETERS, check_parameter,
                                         tracker_config_from_parameters)

CONFIG_FILES = sorted((ROOT / "config").glob("*.yaml"))
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


def node_parameters_in(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and len(data) == 1, f"{path}: one node section expected"
    (section, body), = data.items()
    assert section in ("/**", "fartrack_node", "/**/fartrack_node"), f"{path}: section {section!r}"
    assert set(body) == {"ros__parameters"}, f"{path}: {sorted(body)}"
    return body["ros__parameters"]


def test_there_are_a_cpu_and_a_gpu_config():
    names = {p.name for p in CONFIG_FILES}
    assert {"cpu_drone.yaml", "gpu.yaml"} <= names


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_files_set_every_parameter_with_a_valid_value(path):
    values = node_parameters_in(path)
    assert set(values) == set(NODE_PARAMETERS), \
        f"{path.name}: missing {sorted(set(NODE_PARAMETERS) - set(values))}, " \
        f"unknown {sorted(set(values) - set(NODE_PARAMETERS))}"
    for name, value in values.items():
        assert check_parameter(name, value) is None, f"{path.name}: {check_parameter(name, value)}"
        assert type(value) is type(NODE_PARAMETERS[name].default), \
            f"{path.name}: {name} has YAML type {type(value).__name__}; rclpy would refuse it"
    tracker_config_from_parameters(values)


def test_gpu_config_runs_a_deeper_model_on_cuda():
    cpu = node_parameters_in(ROOT / "config" / "cpu_drone.yaml")
    gpu = node_parameters_in(ROOT / "config" / "gpu.yaml")
    assert (cpu["device"], gpu["device"]) == ("cpu", "cuda")
    depth = {"pico": 6, "nano": 10, "tiny": 15}
    assert depth[gpu["variant"]] > depth[cpu["variant"]]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_the_node_starts_with_each_config_file(start_node, random_weights, path):
    node = start_node({"weights": random_weights}, extra_args=("--params-file", str(path)))
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        assert client.wait_for(lambda: client.latest_status() is not None, 10), node.output()
        status = client.latest_status()
        assert status.state_name == "idle", (status.last_error, node.output())
    finally:
        client.close()


# ------------------------------------------------------------------------------ launch files

class LaunchFileFacts(ast.NodeVisitor):
    """What a launch file declares and uses, read from its syntax tree."""

    def __init__(self) -> None:
        self.declared: set[str] = set()
        self.used: set[str] = set()
        self.parameter_keys: set[str] = set()
        self.forwarded: set[str] = set()
        self.strings: set[str] = set()
        self.calls: list[ast.Call] = []

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if name == "DeclareLaunchArgument":
            self.declared.add(first)
        elif name == "LaunchConfiguration" and first is not None:   # None: a variable name,
            self.used.add(first)                 # e.g. the NODE_PARAMETER_ARGUMENTS loop
        for kw in node.keywords:
            if kw.arg == "parameters":
                for item in ast.walk(kw.value):
                    if isinstance(item, ast.Dict):
                        self.parameter_keys |= {k.value for k in item.keys
                                                if isinstance(k, ast.Constant)}
        self.calls.append(node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(getattr(t, "id", "") == "NODE_PARAMETER_ARGUMENTS" for t in node.targets):
            self.forwarded |= {e.value for e in node.value.elts}
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.strings.add(node.value)


def launch_facts(path: Path) -> LaunchFileFacts:
    facts = LaunchFileFacts()
    facts.visit(ast.parse(path.read_text(), filename=str(path)))
    return facts


def test_there_is_a_launch_file():
    assert {p.name for p in LAUNCH_FILES} >= {"fartrack.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_parameters_exist_on_the_node(path):
    facts = launch_facts(path)
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)
    unknown = (facts.parameter_keys | facts.forwarded) - set(NODE_PARAMETERS) - set(LIFECYCLE_PARAMETERS)
    assert not unknown, f"{path.name} sets parameters the node does not have: {sorted(unknown)}"
    assert facts.forwarded <= facts.declared, "a forwarded launch argument is not declared"
    undeclared = facts.used - facts.declared
    # LaunchConfiguration(name, default=...) in an including file needs no declaration
    defaulted = {c.args[0].value for c in facts.calls
                 if getattr(c.func, "id", "") == "LaunchConfiguration"
                 and any(k.arg == "default" for k in c.keywords)}
    assert undeclared <= defaulted, f"{path.name} uses undeclared arguments {sorted(undeclared)}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_references_exist(path):
    facts = launch_facts(path)
    for text in facts.strings:
        if text.endswith(".yaml"):
            assert (ROOT / "config" / text).is_file(), f"{path.name}: config/{text} missing"
        if text.endswith(".launch.py"):
            assert (ROOT / "launch" / text).is_file(), f"{path.name}: launch/{text} missing"
            included = launch_facts(ROOT / "launch" / text)
            passed = {k.value for c in facts.calls for kw in c.keywords
                      if kw.arg == "launch_arguments"
                      for d in ast.walk(kw.value) if isinstance(d, ast.Dict)
                      for k in d.keys if isinstance(k, ast.Constant)}
            assert passed <= included.declared, \
                f"{path.name} passes {sorted(passed - included.declared)} to {text}"
    nodes = [c for c in facts.calls if getattr(c.func, "id", "") in ("Node", "LifecycleNode")]
    for call in nodes:
        kwargs = {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}
        executable = {"Node": "fartrack_node_plain", "LifecycleNode": "fartrack_node"}[call.func.id]
        assert kwargs.get("executable") == executable, f"{path.name}: {call.func.id} runs {kwargs}"
        assert "fartrack_ros" in facts.strings and "fartrack_node" in facts.strings


def test_the_launch_file_starts_the_managed_node_active_by_default():
    facts = launch_facts(ROOT / "launch" / "fartrack.launch.py")
    defaults = {c.args[0].value: k.value.value for c in facts.calls
                if getattr(c.func, "id", "") == "DeclareLaunchArgument"
                for k in c.keywords if k.arg == "default_value" and isinstance(k.value, ast.Constant)}
    assert defaults["managed"] == "true" and defaults["autostart"] == "true"
    assert "autostart" in facts.parameter_keys


def test_cmake_installs_the_executable_launch_and_config():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "install(DIRECTORY launch config DESTINATION share/${PROJECT_NAME})" in cmake
    assert "DESTINATION lib/${PROJECT_NAME}" in cmake
    launchers = dict(re.findall(r"^fartrack_launcher\((\w+) ([\w.]+)\)", cmake, re.MULTILINE))
    assert launchers == {"fartrack_node": "fartrack_ros.ros.lifecycle_node",
                         "fartrack_node_plain": "fartrack_ros.ros.node",
                         "fartrack_follow": "fartrack_ros.ros.follow"}, launchers
    for module in launchers.values():
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_launch_file_gives_the_node_the_shipped_fast_dds_profile():
    text = (ROOT / "launch" / "fartrack.launch.py").read_text()
    facts = launch_facts(ROOT / "launch" / "fartrack.launch.py")
    assert "fastdds_profile.xml" in facts.strings
    assert (ROOT / "config" / "fastdds_profile.xml").is_file()
    assert "additional_env=environment" in text
    assert {"FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"} <= facts.strings


@pytest.mark.parametrize("name, transports", [
    ("fastdds_profile.xml", {"SHM", "UDPv4", "TCPv4"}),   # node, cameras: TCP for LARGE_DATA peers
    ("fastdds_local_profile.xml", {"SHM", "UDPv4"}),      # demo, bench-node, tests: no TCP
])
def test_fast_dds_profiles_are_valid_xml_with_shared_memory(name, transports):
    import xml.etree.ElementTree as ET

    root = ET.parse(ROOT / "config" / name).getroot()
    ns = {"d": "http://www.eprosima.com"}
    types = [t.text for t in root.iterfind(".//d:transport_descriptor/d:type", ns)]
    assert set(types) == transports
    segment = int(root.find(".//d:transport_descriptor/d:segment_size", ns).text)
    assert segment >= 1920 * 1080 * 3 * 2          # two full-HD bgr8 frames
    participant = root.find(".//d:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.find(".//d:useBuiltinTransports", ns).text == "false"
    used = {t.text for t in participant.iterfind(".//d:userTransports/d:transport_id", ns)}
    declared = {t.text for t in root.iterfind(".//d:transport_descriptor/d:transport_id", ns)}
    assert used == declared


def test_local_fast_dds_profile_is_the_shipped_one_without_tcp():
    """The two profiles are kept as two files (Fast DDS reads one default profile per file);
    this keeps them from drifting apart."""
    import xml.etree.ElementTree as ET

    ns = "{http://www.eprosima.com}"

    def tree(element):
        return (element.tag, element.attrib, (element.text or "").strip(),
                [tree(child) for child in element])

    shipped = ET.parse(ROOT / "config" / "fastdds_profile.xml").getroot()
    for descriptors in shipped.iter(f"{ns}transport_descriptors"):
        for descriptor in list(descriptors):
            if descriptor.find(f"{ns}type").text == "TCPv4":
                tcp_id = descriptor.find(f"{ns}transport_id").text
                descriptors.remove(descriptor)
    for transports in shipped.iter(f"{ns}userTransports"):
        for transport in list(transports):
            if transport.text == tcp_id:
                transports.remove(transport)
    local = ET.parse(ROOT / "config" / "fastdds_local_profile.xml").getroot()
    assert tree(local) == tree(shipped)
