"""The node exercised by a client that knows only its public interfaces (independent_client.py),
each in its own process."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import random_weights, start_node  # noqa: F401 (fixtures)

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).with_name("independent_client.py")


@pytest.mark.parametrize("managed", [False, True], ids=["plain", "managed-autostart"])
def test_independent_client_tracks_and_stops(start_node, random_weights, managed):
    parameters = {"weights": random_weights, "lost_threshold": 0.0, "threads": 1}
    if managed:       # the lifecycle node as the launch file starts it
        node = start_node({**parameters, "autostart": True},
                          executable=(sys.executable, "-m", "fartrack_ros.ros.lifecycle_node"))
    else:
        node = start_node(parameters)
    run = subprocess.run([sys.executable, str(CLIENT), node.fqn, f"{node.namespace}/image"],
                         capture_output=True, text=True, timeout=180)
    assert run.stdout.strip(), f"client printed nothing:\n{run.stderr}\n{node.output()}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ok"], (report["failures"], node.output())
    assert run.returncode == 0
    assert report["answered"] >= 10 and report["track_id"]
    assert node.is_running()
