"""Running figures for the node's diagnostics and the demo / benchmark summaries."""
from __future__ import annotations

from collections import deque
from typing import Iterable, Optional

import numpy as np


class RateMeter:
    """Events per second over a sliding time window."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_ns = int(window_s * 1e9)
        self._times: deque[int] = deque()

    def tick(self, now_ns: int) -> None:
        self._times.append(now_ns)
        while self._times and now_ns - self._times[0] > self.window_ns:
            self._times.popleft()

    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) * 1e9 / span if span > 0 else 0.0


def percentiles_ms(values_ms: Iterable[float], qs=(50, 95)) -> list[Optional[float]]:
    """Percentiles of a list of milliseconds; None for an empty list."""
    values = np.asarray(list(values_ms), dtype=np.float64)
    if values.size == 0:
        return [None for _ in qs]
    return [float(v) for v in np.percentile(values, qs)]


class LatencyWindow:
    """The last ``size`` latencies (ms), with percentiles."""

    def __init__(self, size: int = 100) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self.last_ms = 0.0

    def add(self, latency_ms: float) -> None:
        self.last_ms = latency_ms
        self._values.append(latency_ms)

    def percentiles(self, qs=(50, 95)) -> list[Optional[float]]:
        return percentiles_ms(self._values, qs)
