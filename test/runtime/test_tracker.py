"""The tracker loop: template schedule, bookkeeping, errors, end-to-end run."""
import numpy as np
import pytest
import torch

from fartrack_ros.config import ModelConfig, TrackerConfig
from fartrack_ros.model.checkpoint import save_weights
from fartrack_ros.model.fartrack import FARTrack
from fartrack_ros.runtime.tracker import build_tracker, template_slot_indices


@pytest.mark.parametrize("after_frame, slots", [
    (1, [0, 0, 0, 0, 1]), (2, [0, 0, 0, 1, 2]), (3, [0, 0, 1, 2, 3]), (4, [0, 1, 2, 2, 4]),
    (5, [0, 1, 2, 3, 5]), (6, [0, 1, 3, 3, 6]), (10, [0, 3, 5, 6, 10]), (15, [0, 4, 7, 9, 15])])
def test_template_schedule_matches_spec_table(after_frame, slots):
    assert template_slot_indices(after_frame + 1) == slots


def test_exponential_indices_equal_one_minus_point_seven_power():
    for n in range(5, 5000):
        expected = [0] + [int((n - 1) * (1 - 0.7 ** i)) for i in (1, 2, 3)] + [n - 1]
        assert template_slot_indices(n) == expected


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("w") / "random.safetensors"
    save_weights(path, FARTrack(ModelConfig()))
    return str(path)


def moving_square_sequence(n=8, size=(160, 200)):
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, size + (3,), dtype=np.uint8)
    frames, boxes = [], []
    for i in range(n):
        f = bg.copy()
        x, y = 50 + 3 * i, 60 + 2 * i
        f[y:y + 30, x:x + 40] = (220, 40, 40)
        frames.append(f)
        boxes.append((x, y, 40, 30))
    return frames, boxes


def test_tracker_runs_end_to_end_and_is_deterministic(weights):
    frames, boxes = moving_square_sequence()
    runs = []
    for _ in range(2):
        tr = build_tracker(TrackerConfig(weights=weights, variant="pico", backend="torch"))
        tr.initialize(frames[0], boxes[0])
        out = [tr.track(f) for f in frames[1:]]
        runs.append(np.array([o.box_xywh for o in out]))
        assert [o.frame_index for o in out] == list(range(1, len(frames)))
        for o in out:
            x, y, w, h = o.box_xywh
            assert 0 <= o.score <= 1 and o.state in ("tracking", "lost")
            assert w >= 10 and h >= 10 and 0 <= x <= 200 - 10 and 0 <= y <= 160 - 10
        # 5 slots, 4 older ones carry a 37-token mask after the first frame
        masks = [tr._masks.get(i) for i in tr._slots]
        assert masks[-1] is None and all(int(m.sum()) == 37 for m in masks[:-1])
    assert np.array_equal(runs[0], runs[1])


def test_history_stays_bounded_and_initialize_resets(weights):
    frames, boxes = moving_square_sequence(n=2)
    tr = build_tracker(TrackerConfig(weights=weights, variant="pico", backend="torch"))
    tr.initialize(frames[0], boxes[0])
    for _ in range(60):
        tr.track(frames[1])
    assert len(tr._templates) <= 44          # index 0 + indices >= floor(0.3 * 60)
    assert set(tr._slots) <= set(tr._templates)
    tr.initialize(frames[0], boxes[0])
    assert tr.frame_id == 0 and list(tr._templates) == [0] and not tr._masks


def test_bad_inputs_raise_clear_errors(weights):
    frames, boxes = moving_square_sequence(n=2)
    tr = build_tracker(TrackerConfig(weights=weights, variant="pico", backend="torch"))
    with pytest.raises(RuntimeError, match="before initialize"):
        tr.track(frames[0])
    with pytest.raises(ValueError, match="outside"):
        tr.initialize(frames[0], (500, 500, 10, 10))
    with pytest.raises(ValueError, match="zero or negative"):
        tr.initialize(frames[0], (10, 10, 0, 10))
    with pytest.raises(ValueError, match="RGB uint8"):
        tr.initialize(frames[0].astype(np.float32), boxes[0])
    with pytest.raises(ValueError, match="RGB uint8"):
        tr.initialize(frames[0][..., 0], boxes[0])
    tr.initialize(frames[0], boxes[0])
    small = np.ascontiguousarray(frames[1][:80, :100])     # frame size changes mid-stream
    res = tr.track(small)
    assert res.box_xywh[0] <= 100 - 10 and res.box_xywh[1] <= 80 - 10
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        build_tracker(TrackerConfig(weights="/nonexistent/missing.safetensors"))
    with pytest.raises(ValueError, match="unknown backend"):
        build_tracker(TrackerConfig(weights=weights, backend="warp-drive"))


@pytest.mark.parametrize("variant", ["tiny", "nano", "pico"])
def test_reference_and_torch_backends_agree(weights, variant):
    frames, boxes = moving_square_sequence(n=6)
    out = {}
    for backend in ("reference", "torch"):
        tr = build_tracker(TrackerConfig(weights=weights, variant=variant, backend=backend))
        tr.initialize(frames[0], boxes[0])
        out[backend] = np.array([tr.track(f).box_xywh for f in frames[1:]])
    assert np.abs(out["reference"] - out["torch"]).max() < 0.01
