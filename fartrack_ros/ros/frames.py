"""Thread hand-off between the subscription callback and the node's worker thread.

The callback only stores the newest message (and remembers recent ones for stamped set-target
requests); the worker takes the newest message, so it never works through a stale backlog
(../shared/ros2-pip-wheels.md, "slow subscriber callback").
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional


@dataclass
class ReceivedFrame:
    message: Any          # sensor_msgs/Image or CompressedImage, not converted yet
    stamp_ns: int         # header stamp
    received_ns: int      # node clock at arrival


class LatestFrameSlot:
    """One-slot holder: ``put`` replaces an unprocessed frame (counted as dropped)."""

    def __init__(self) -> None:
        self._frame: Optional[ReceivedFrame] = None
        self.dropped = 0
        self.received = 0

    def put(self, frame: ReceivedFrame) -> None:
        if self._frame is not None:
            self.dropped += 1
        self._frame = frame
        self.received += 1

    def take(self) -> Optional[ReceivedFrame]:
        frame, self._frame = self._frame, None
        return frame

    def __bool__(self) -> bool:
        return self._frame is not None


class FrameHistory:
    """The last ``capacity`` frames by stamp (newest last)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"frame history capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._frames: OrderedDict[int, ReceivedFrame] = OrderedDict()

    def add(self, frame: ReceivedFrame) -> None:
        self._frames.pop(frame.stamp_ns, None)
        self._frames[frame.stamp_ns] = frame
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def find(self, stamp_ns: int) -> Optional[ReceivedFrame]:
        return self._frames.get(stamp_ns)

    def newest(self) -> Optional[ReceivedFrame]:
        return next(reversed(self._frames.values()), None)

    def __len__(self) -> int:
        return len(self._frames)


class FrameExchange:
    """Slot + history + pending commands behind one condition variable."""

    def __init__(self, history: int) -> None:
        self.condition = threading.Condition()
        self.slot = LatestFrameSlot()
        self.history = FrameHistory(history)
        self.commands: list = []
        self.closed = False

    def put_frame(self, frame: ReceivedFrame) -> None:
        with self.condition:
            self.slot.put(frame)
            self.history.add(frame)
            self.condition.notify()

    def put_command(self, command) -> None:
        with self.condition:
            self.commands.append(command)
            self.condition.notify()

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def wait(self, timeout: float) -> tuple[list, Optional[ReceivedFrame]]:
        """Pending commands (all) and the newest unprocessed frame, after waiting for either."""
        with self.condition:
            if not self.commands and not self.slot and not self.closed:
                self.condition.wait(timeout)
            commands, self.commands = self.commands, []
            return commands, self.slot.take()

    def counts(self) -> tuple[int, int]:
        with self.condition:
            return self.slot.received, self.slot.dropped

    def find(self, stamp_ns: Optional[int]) -> tuple[Optional[ReceivedFrame], bool]:
        """The frame with ``stamp_ns`` (True) if still held, else the newest one (False)."""
        with self.condition:
            if stamp_ns:
                frame = self.history.find(stamp_ns)
                if frame is not None:
                    return frame, True
            return self.history.newest(), False
