"""Helpers and fixtures shared by the ROS tests: real nodes in separate processes over DDS.
Test modules import what they use from here (pytest puts test/ros on sys.path). There is no
conftest.py in this folder on purpose: another one would shadow test/evaluation's conftest,
which tests there import by name.

Without rclpy or the generated interfaces these tests are skipped, unless
FARTRACK_REQUIRE_ROS=1 (set by `make test`), where that is an error.

Every process, the test process included, gets the settings `fartrack demo` gives its
processes (fartrack_ros.ros.tools.session.prepare_ros_environment), unless the environment sets
them: the shipped local profile config/fastdds_local_profile.xml (shared memory for 640x480
frames, UDPv4; no TCP: with Fast DDS 3.2.3 a test process that had a TCP channel hung for ever
in destroy_node, see the profile's comment), a log folder, and this session's ROS_DOMAIN_ID
(from the environment, e.g. `make test`, else random); each node runs in its own namespace, so
concurrent sessions on one domain stay apart. test_node_transport.py starts nodes as users do:
LARGE_DATA, no profile, the node's shipped one.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

try:
    import rclpy  # noqa: F401
    import vision_msgs.msg  # noqa: F401
    import fartrack_ros.srv  # noqa: F401
except ImportError as exc:
    if os.environ.get("FARTRACK_REQUIRE_ROS") == "1":
        raise
    pytest.skip(f"ROS 2 environment not available ({exc}); run `make test`",
                allow_module_level=True)

from fartrack_ros.ros.tools.session import prepare_ros_environment  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# the same settings as the demo and bench-node sessions, before any participant of this
# process is created
DOMAIN_ID = prepare_ros_environment(ROOT / ".ros_log")
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
_random_weights = None


def unique_namespace(prefix: str = "t") -> str:
    return f"/{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


class NodeProcess:
    """`python -m fartrack_ros.ros.node` in its own process; output kept in a log file."""

    def __init__(self, namespace: str, parameters: dict, log_path: Path,
                 extra_args: tuple = (), executable: tuple = (sys.executable, "-m", "fartrack_ros.ros.node")):
        self.namespace = namespace
        self.fqn = f"{namespace}/fartrack_node"
        self.log_path = log_path
        # extra_args (e.g. --params-file) first: a later -p overrides the file's value
        args = [*executable, "--ros-args", "-r", f"__ns:={namespace}", *extra_args]
        for name, value in parameters.items():
            args += ["-p", f"{name}:={value}"]
        self._log = open(log_path, "wb")
        # faulthandler: a node that does not stop is sent SIGABRT, which writes every thread's
        # Python stack into its log before it dies (the failure then shows where it hung)
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
                                        env={**os.environ, "PYTHONFAULTHANDLER": "1"})

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGABRT)     # stacks into the log, then exit
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
        self._log.close()
        return self.process.returncode


def set_parameter(client, name: str, value):
    """Set one parameter of the client's node through its set_parameters service."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    service = client.node.create_client(SetParameters, f"{client.node_fqn}/set_parameters")
    try:
        assert service.wait_for_service(10.0)
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return client._call(service, request, 30.0).results[0]
    finally:
        client.node.destroy_client(service)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> str:
    """A random-weight checkpoint in the project's format (boxes meaningless, plumbing real)."""
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    global _random_weights
    if _random_weights is None:          # one file for the session, whichever module asks
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp("weights") / "random.safetensors"
        save_weights(path, FARTrack(ModelConfig()))
        _random_weights = str(path)
    return _random_weights


@pytest.fixture(scope="module")
def default_weights():
    """The shipped default weights (real tracking); the test is skipped where there are none."""
    from fartrack_ros.weights import default_weights_path
    try:
        return default_weights_path()
    except FileNotFoundError as exc:
        pytest.skip(f"no default weights yet: {exc}")


@pytest.fixture
def start_node(tmp_path):
    """start_node(parameters, ...) -> a running NodeProcess; stopped after the test."""
    started = []

    def start(parameters: dict, namespace: str | None = None, **kwargs) -> NodeProcess:
        namespace = namespace or unique_namespace()
        node = NodeProcess(namespace, parameters, tmp_path / f"node{len(started)}.log", **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()
