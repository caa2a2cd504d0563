"""Fixtures for the evaluation tests (data helpers live in eval_data.py)."""
from pathlib import Path

import pytest

from eval_data import write_got10k_split


@pytest.fixture
def got10k_split(tmp_path) -> Path:
    return write_got10k_split(tmp_path / "val")
