"""The bounded template history: exact official slots while nothing is forgotten, bounded memory
and nearest slots beyond."""
from fartrack_ros.core.template_history import (nearest_kept_indices, template_slot_indices,
                                                templates_to_forget)


def replay(frames: int, capacity: int):
    """Stores one template per frame as the tracker does; yields (n, kept, slots)."""
    kept = [0]
    for newest in range(1, frames):
        kept.append(newest)
        n = newest + 1
        forget = set(templates_to_forget(kept, n, capacity))
        kept = [i for i in kept if i not in forget]
        yield n, kept, nearest_kept_indices(template_slot_indices(n), kept)


def test_unbounded_history_keeps_exactly_what_the_sampling_can_still_pick():
    for n, kept, slots in replay(3000, capacity=0):
        assert slots == template_slot_indices(n)
        assert kept == [0] + list(range(max(1, int((n - 1) * 0.3)), n))


def test_bounded_history_is_exact_until_full_then_stays_at_capacity():
    full_at = None
    for n, kept, slots in replay(20_000, capacity=512):
        assert len(kept) <= 512 and kept[0] == 0 and kept[-1] == n - 1
        if full_at is None and len(kept) == 512 and n > 600:
            full_at = n
        if full_at is None:
            assert slots == template_slot_indices(n)
    assert 700 < full_at < 760          # 0.7 n templates are needed: exact for ~730 frames
    # beyond it, each slot is the kept index nearest to the official one, and the kept ones are
    # spread over the sampled range: no slot is far from where the official tracker would look
    wanted = template_slot_indices(n)
    assert slots[0] == 0 and slots[-1] == n - 1
    assert max(abs(a - b) for a, b in zip(slots, wanted)) <= 3 * (n * 0.7) / 512


def test_nearest_kept_index_prefers_the_older_on_a_tie():
    assert nearest_kept_indices([5, 7, 0, 20], [0, 4, 6, 10]) == [4, 6, 0, 10]
