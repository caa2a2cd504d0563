"""Files the ROS package ships besides its code (config/): from the source checkout this module
runs from, else from the installed package's share directory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional


def repository_root() -> Optional[Path]:
    """The source checkout this module runs from, if it is one (it has config/ and package.xml)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "config").is_dir() and (root / "package.xml").is_file() else None


def find_config_file(name: str) -> Path:
    """config/<name> of the checkout, else of the installed ROS package (share/fartrack_ros)."""
    root = repository_root()
    candidates = [root / "config" / name] if root else []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory("fartrack_ros")) / "config" / name)
    except (LookupError, OSError, ValueError):
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"parameter file {name!r} not found in {[str(c) for c in candidates]}")
