"""Shared test set-up: the repository root on sys.path and a small, single-threaded torch."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("ROS_LOG_DIR", str(ROOT / ".ros_log"))

try:
    import torch
    torch.set_num_threads(1)
except ImportError:   # the ROS-only test environment
    pass
