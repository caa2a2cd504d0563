"""Fast DDS transport settings for the node, the demo and the benchmark (docs/ros.md, "DDS
transports").

Uncompressed camera frames (640x480 bgr8: 921,600 bytes) need shared memory with large
segments, or TCP, between the processes of one machine: over fragmented UDP, best-effort frames
are mostly lost. Fast DDS's builtin LARGE_DATA set (FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA) does
that, but not under ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, where rmw_fastrtps sets the
discovery locators and peers itself: `fartrack bench-node` then received 121 of 451 frames.
The shipped profiles name their transports explicitly, which holds under every discovery range:

- config/fastdds_profile.xml (shared memory with 16 MiB segments, UDPv4, TCPv4) for the node and
  the camera driver that feeds it; TCP because participants with LARGE_DATA match nobody
  without it;
- config/fastdds_local_profile.xml, the same without TCP, for `fartrack demo`, `fartrack
  bench-node` and the tests, whose processes talk only to each other: Fast DDS 3.2.3 can hang
  for ever deleting a participant with a TCP channel (see the profile's comment).

A process can only choose its own transports, and the sender of the frames decides how they
travel: the node applies the profile to itself and warns when the environment it was started in
leaves frames from other processes at risk.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, MutableMapping, Optional

from fartrack_ros.ros.package_files import find_config_file

PROFILE_FILE_NAME = "fastdds_profile.xml"               # the node, launch files, camera drivers
LOCAL_PROFILE_FILE_NAME = "fastdds_local_profile.xml"   # without TCP: demo, bench-node, tests
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def shipped_profile(name: str = PROFILE_FILE_NAME) -> Path:
    """config/<name> of the checkout, else of the installed package."""
    return find_config_file(name)


def _uses_fast_dds(environ: Mapping[str, str]) -> bool:
    return environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps")


def user_profile(environ: Mapping[str, str]) -> Optional[str]:
    """The Fast DDS profile file the environment names, if any."""
    return next((environ[v] for v in PROFILE_VARIABLES if environ.get(v)), None)


def use_shipped_profile(environ: MutableMapping[str, str] = os.environ,
                        name: str = PROFILE_FILE_NAME) -> Optional[str]:
    """Point FASTDDS_DEFAULT_PROFILES_FILE at the shipped profile ``name`` unless the environment
    names a profile already or uses another RMW; returns the path set, or None. Affects
    participants created afterwards in this process and the processes it starts."""
    if user_profile(environ) or not _uses_fast_dds(environ):
        return None
    try:
        path = str(shipped_profile(name))
    except FileNotFoundError:
        return None
    environ[PROFILE_VARIABLES[0]] = path
    return path


def transport_warnings(environ: Mapping[str, str], compressed: bool) -> list[str]:
    """What the user's environment (before the node applied its profile) puts at risk."""
    if compressed or not _uses_fast_dds(environ) or user_profile(environ):
        return []        # compressed frames are small; a user's own profile is trusted
    try:
        hint = f"export {PROFILE_VARIABLES[0]}={shipped_profile()}"
    except FileNotFoundError:
        hint = f"set {PROFILE_VARIABLES[0]} to the package's config/{PROFILE_FILE_NAME}"
    if environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST":
        return [f"ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST without a Fast DDS profile: the camera "
                f"driver's large frames travel over fragmented UDP and most are lost (LARGE_DATA "
                f"does not apply under LOCALHOST). This node uses the shipped profile; start the "
                f"camera driver with it too: {hint}"]
    if environ.get("FASTDDS_BUILTIN_TRANSPORTS", "").upper() != "LARGE_DATA":
        return [f"neither FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA nor a Fast DDS profile is set: "
                f"camera frames over 512 KB travel over fragmented UDP and many are lost. This "
                f"node uses the shipped profile; start the camera driver with it too: {hint}"]
    return []
