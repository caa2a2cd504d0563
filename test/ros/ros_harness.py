"""Helpers shared by the ROS tests (imported as a plain module: test/ros is on sys.path).

Every process gets FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (else 640x480 frames get lost), a log
folder, and this session's ROS_DOMAIN_ID (from the environment, e.g. `make test`, else random);
each node runs in its own namespace, so concurrent sessions on one domain stay apart.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
os.environ.setdefault("ROS_LOG_DIR", str(ROOT / ".ros_log"))
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(100, 199)))
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
DOMAIN_ID = int(os.environ["ROS_DOMAIN_ID"])


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
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def output(self) -> str:
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
