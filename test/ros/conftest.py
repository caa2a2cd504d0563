"""ROS test fixtures: real nodes in separate processes over DDS (see ros_harness.py).

Without rclpy or the generated interfaces these tests are skipped, unless
FARTRACK_REQUIRE_ROS=1 (set by `make test`), where that is an error.
"""
from __future__ import annotations

import os

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

from ros_harness import NodeProcess, unique_namespace  # noqa: E402


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> str:
    """A random-weight checkpoint in the project's format (boxes meaningless, plumbing real)."""
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    save_weights(path, FARTrack(ModelConfig()))
    return str(path)


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
