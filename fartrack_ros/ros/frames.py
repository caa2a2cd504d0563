"""Thread hand-off between the subscription callback and the node's worker thread.

The callback only stores the newest message (and remembers recent usable ones for stamped
set-target requests); the worker takes the newest message, so it never works through a stale
backlog (a slow subscriber callback would otherwise queue frames in the DDS reader).

Only frames that passed the arrival checks enter the history: a stamped set_target must find
the frame with that stamp, never a rejected one (issue 19, fault 1).
"""
from __future__ import annotations

import threading
import time
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

    def remove(self, stamp_ns: int) -> None:
        self._frames.pop(stamp_ns, None)

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
        """A frame that passed the arrival checks: into the slot and the history."""
        with self.condition:
            self.slot.put(frame)
            self.history.add(frame)
            self.condition.notify_all()

    def count_rejected(self) -> None:
        """A frame refused on arrival: counted as received, kept nowhere."""
        with self.condition:
            self.slot.received += 1

    def forget(self, stamp_ns: int) -> None:
        """Remove a frame found unusable later (a compressed image that does not decode)."""
        with self.condition:
            self.history.remove(stamp_ns)

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

    def find(self, stamp_ns: Optional[int], wait_s: float = 0.0
             ) -> tuple[Optional[ReceivedFrame], bool]:
        """The frame with ``stamp_ns`` (True) if held, else the newest one (False).

        A stamp newer than every held frame may name a frame still in flight (the request and
        the images travel on different topics): wait up to ``wait_s`` for it to arrive.
        """
        deadline = time.monotonic() + wait_s
        with self.condition:
            while True:
                if stamp_ns:
                    frame = self.history.find(stamp_ns)
                    if frame is not None:
                        return frame, True
                newest = self.history.newest()
                remaining = deadline - time.monotonic()
                if (not stamp_ns or remaining <= 0 or self.closed
                        or (newest is not None and newest.stamp_ns > stamp_ns)):
                    return newest, False
                self.condition.wait(remaining)
