"""Frames reach the node under the discovery settings users keep in their shell (issue 19,
fault 4): `fartrack bench-node`'s session (node, camera and client in three processes) at 30 Hz
640x480, with FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA alone and with
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST as well; and the node's warning where its environment
leaves the camera's frames at risk.
"""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import DOMAIN_ID, random_weights, start_node  # noqa: F401 (fixtures)

import pytest

from fartrack_ros.ros.tools.bench import run_bench
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.dds import PROFILE_VARIABLES


@pytest.fixture
def dds_environment(monkeypatch):
    """set(range): the user's shell as in the issue (LARGE_DATA, no profile, the range)."""
    def set_range(discovery_range):
        for name in PROFILE_VARIABLES:
            monkeypatch.delenv(name, raising=False)     # restored after the test
        monkeypatch.setenv("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
        if discovery_range:
            monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", discovery_range)
        else:
            monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    return set_range


@pytest.mark.parametrize("discovery_range", ["", "LOCALHOST"], ids=["default-range", "localhost"])
def test_bench_node_frames_arrive_under_both_discovery_settings(dds_environment, random_weights,
                                                                tmp_path, discovery_range):
    dds_environment(discovery_range)
    # qos_depth 30: a loaded machine's executor may take frames late; the deeper reader keeps
    # them, so "never received" counts what the transport lost, not what the reader replaced
    result = run_bench("640x480", 30.0, 4.0, {"weights": random_weights, "threads": 1,
                                               "lost_threshold": 0.0, "qos_depth": 30},
                       None, tmp_path / "bench")
    published, never = result["published"], result["node_never_received"]
    # before the shipped profile, LOCALHOST lost most frames (121 of 451 received)
    assert published >= 100, result
    assert never <= 0.1 * published, result
    assert result["processed"] >= 10, result


@pytest.mark.parametrize("environment, warned", [
    ({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}, "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST"),
    ({"FASTDDS_BUILTIN_TRANSPORTS": ""}, "neither FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA"),
    ({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "FASTDDS_DEFAULT_PROFILES_FILE": "own"}, None),
    ({}, None),
], ids=["localhost", "no-large-data", "own-profile", "large-data"])
def test_node_warns_where_the_environment_puts_frames_at_risk(
        start_node, random_weights, monkeypatch, environment, warned, tmp_path):
    from fartrack_ros.ros.dds import shipped_profile

    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    monkeypatch.setenv("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    for name, value in environment.items():
        if name == "FASTDDS_DEFAULT_PROFILES_FILE":       # a user's own (copy of the) profile
            own = tmp_path / "own_profile.xml"
            own.write_text(shipped_profile().read_text())
            value = str(own)
        monkeypatch.setenv(name, value)
    node = start_node({"weights": random_weights, "threads": 1})
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        assert client.wait_for(lambda: "listening on" in node.output(), 10)
        output = node.output()
        if warned:
            assert warned in output and f"export FASTDDS_DEFAULT_PROFILES_FILE={shipped_profile()}" in output
        else:
            assert "WARN" not in output, output
        if "FASTDDS_DEFAULT_PROFILES_FILE" in environment:
            assert "Fast DDS profile:" not in output          # the user's profile is kept
        else:
            assert f"Fast DDS profile: {shipped_profile()}" in output
    finally:
        client.close()
