"""Which stored templates fill the tracker's five slots, and which ones it may forget.

The official tracker keeps every template it has cropped and fills the slots by exponential
sampling (base 0.7) over the whole history: slot 0 the first frame, slots 1-3 at the fractions
0.3, 0.51 and 0.657 of the history, slot 4 the newest. Slot 1's index grows by 0.3 per frame, so
every index above 0.3 n is picked at some later frame: to stay exact a tracker must keep 70 % of
all templates, and its memory grows with the video (the ONNX backend's embedded template is
37.6 KB, so about 26 KB per frame: half a gigabyte after 20,000 frames).

A bounded history keeps at most ``capacity`` templates. While no more are needed, the slots are
exactly the official ones. Beyond that, the entry whose removal leaves the smallest gap between
its neighbours goes (never the first template, never the newest), so the kept ones stay spread
evenly over the sampled range, and each slot takes the kept index nearest to its official one.
"""
from __future__ import annotations

import bisect

import numpy as np

# slot i of 1..3 takes floor((n - 1) * (1 - 0.7 ** i)); written out as the official code has them
SAMPLING_FRACTIONS = (0.3, 0.51, 0.657)


def template_slot_indices(n: int, num_slots: int = 5) -> list[int]:
    """History indices of the slots when ``n`` templates are stored: the official exponential
    sampling (indices int((n - 1) * (1 - 0.7 ** i)); the first frames repeat the oldest)."""
    if n < num_slots:
        return [min(max(0, p - (num_slots - n)), n - 1) for p in range(num_slots)]
    return [0] + [int((n - 1) * f) for f in SAMPLING_FRACTIONS] + [n - 1]


def templates_to_forget(kept: list[int], n: int, capacity: int = 0) -> list[int]:
    """History indices to drop from ``kept`` (sorted, holding 0 and the newest, n - 1) once the
    n-th template is stored. Indices below the oldest one the sampling can still pick always go;
    with ``capacity`` > 0 thinning then keeps at most that many (0 = keep all that can be picked,
    as the official tracker does)."""
    oldest_needed = int((n - 1) * SAMPLING_FRACTIONS[0])
    drop = [i for i in kept if 0 < i < oldest_needed]
    rest = [i for i in kept if i == 0 or i >= oldest_needed]
    while capacity and len(rest) > max(capacity, 3):
        indices = np.asarray(rest)
        gaps = indices[2:] - indices[:-2]            # the gap each interior entry would leave
        drop.append(rest.pop(1 + int(np.argmin(gaps))))
    return drop


def nearest_kept_indices(wanted: list[int], kept: list[int]) -> list[int]:
    """For each wanted history index the nearest kept one (the older on a tie); ``kept`` sorted.
    Equal to ``wanted`` wherever those are all kept."""
    chosen = []
    for index in wanted:
        pos = bisect.bisect_left(kept, index)
        if pos < len(kept) and kept[pos] == index:
            chosen.append(index)
            continue
        before = kept[pos - 1] if pos > 0 else None
        after = kept[pos] if pos < len(kept) else None
        if after is None or (before is not None and index - before <= after - index):
            chosen.append(before)
        else:
            chosen.append(after)
    return chosen
