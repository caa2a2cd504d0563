"""The source pictures of the generated tracking dataset, all found on this machine.

Sources are the photographs that ship inside installed packages (scikit-image's bundled
``skimage/data`` files and matplotlib's ``grace_hopper.jpg``; nothing is downloaded), plus any
folders of images the caller adds (e.g. Debian's ``/usr/share/doc/opencv-doc/examples/data``), and
the photograph-like figures of any folder tree (e.g. opencv-doc's HTML manual, ``tree_images``).

Two more kinds of sources widen the appearance: **cut-outs**, RGBA images of objects whose alpha
channel is their mask (e.g. Debian's ``tuxpaint-stamps-default``, ``cutout_images``), and
**backgrounds**, large photographs used only behind the scene and for occluding patches (desktop
wallpapers, ``background_images``). ``debian_sources`` finds the Debian packages that hold them.

The sources are split in two disjoint pools (``SourceImage.pool``): the packaged photographs by
fixed lists, added images by a hash of their file name. How the scenes use the pools:
``fartrack_ros.data.scenes.pools_for_split``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

import cv2
import numpy as np

from fartrack_ros.data.images import read_image_rgb

# Photographs inside scikit-image's wheel (skimage/data). Synthetic pictures (chessboards, colour
# wheel, logo, phantom, horse silhouette) are left out; so is everything that needs a download.
SKIMAGE_TRAIN_IMAGES = ("astronaut.png", "camera.png", "chelsea.png", "motorcycle_left.png",
                        "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "brick.png",
                        "grass.png", "text.png", "moon.png", "cell.png", "clock_motion.png",
                        "page.png")
SKIMAGE_TEST_IMAGES = ("coffee.png", "rocket.jpg", "coins.png", "ihc.png", "gravel.png")
MATPLOTLIB_TRAIN_IMAGES = ("grace_hopper.jpg",)
OPENCV_DOC_IMAGES = "/usr/share/doc/opencv-doc/examples/data"
# An added image goes to the test pool when crc32(file name) % TEST_POOL_MODULUS == 0.
TEST_POOL_MODULUS = 4


# --------------------------------------------------------------------------- source photographs

@dataclass(frozen=True)
class SourceImage:
    name: str          # pool-unique name, recorded in meta_info.ini
    path: str
    pool: str          # "train" | "test"
    kind: str = "photo"    # photo (targets, backgrounds, occluders) | background | cutout
    group: str = ""        # cut-outs: their folder; other cut-outs of it make same-kind distractors


def _package_dir(package: str) -> Optional[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def packaged_images() -> list[SourceImage]:
    """The photographs shipped inside scikit-image (required) and matplotlib (if installed)."""
    skimage_dir = _package_dir("skimage")
    if skimage_dir is None:
        raise FileNotFoundError("scikit-image is not installed: the generated dataset uses the "
                                "photographs in its skimage/data folder (pip install scikit-image)")
    images = []
    for pool, names in (("train", SKIMAGE_TRAIN_IMAGES), ("test", SKIMAGE_TEST_IMAGES)):
        for n in names:
            path = skimage_dir / "data" / n
            if not path.is_file():
                raise FileNotFoundError(f"scikit-image data image missing: {path}")
            images.append(SourceImage(f"skimage/{n}", str(path), pool))
    mpl_dir = _package_dir("matplotlib")
    if mpl_dir is not None:
        for n in MATPLOTLIB_TRAIN_IMAGES:
            path = mpl_dir / "mpl-data" / "sample_data" / n
            if path.is_file():
                images.append(SourceImage(f"matplotlib/{n}", str(path), "train"))
    return images


def _pool_of(key: str) -> str:
    """The pool of an added image, from a hash of its name (stable across machines and runs)."""
    return "test" if zlib.crc32(key.encode()) % TEST_POOL_MODULUS == 0 else "train"


def folder_images(folder: str | os.PathLike, min_side: int = 96) -> list[SourceImage]:
    """Images of a user folder (jpg/png), each assigned to a pool by a hash of its file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        shape = _load_rgb(str(path)).shape
        if min(shape[:2]) < min_side:
            continue
        images.append(SourceImage(f"{folder.name}/{path.name}", str(path), _pool_of(path.name)))
    return images


def flat_block_share(image: np.ndarray, block: int = 8, max_std: float = 2.0) -> float:
    """Share of ``block`` x ``block`` tiles whose grey levels barely vary (std < ``max_std``).

    Screenshots, plots and diagrams are mostly flat; photographs, even of skies, are not (sensor
    noise and JPEG texture), which is what ``tree_images`` filters on.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = (gray.shape[0] // block) * block, (gray.shape[1] // block) * block
    tiles = gray[:h, :w].reshape(h // block, block, w // block, block).astype(np.float32)
    return float((tiles.std(axis=(1, 3)) < max_std).mean())


def tree_images(folder: str | os.PathLike, min_side: int = 96, min_bytes: int = 30_000,
                max_flat_share: float = 0.4) -> list[SourceImage]:
    """Photograph-like images anywhere under ``folder`` (e.g. the figures of an HTML manual).

    Keeps jpg/png files of at least ``min_bytes`` and ``min_side`` pixels whose share of flat
    8x8 tiles is below ``max_flat_share``; names them by their path relative to ``folder``,
    and assigns each to a pool by a hash of that path (as ``folder_images`` does by file name).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    images = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or not path.is_file():
            continue
        if path.stat().st_size < min_bytes:
            continue
        image = _load_rgb(str(path))
        if min(image.shape[:2]) < min_side or flat_block_share(image) >= max_flat_share:
            continue
        rel = path.relative_to(folder).as_posix()
        images.append(SourceImage(f"{folder.name}/{rel}", str(path), _pool_of(rel)))
    return images


# --------------------------------------------------------------------------- cut-outs, backgrounds

CUTOUT_MAX_SIDE = 256          # cut-outs are shrunk (area-averaged) to this longer side on loading
BACKGROUND_MAX_SIDE = 1024     # and backgrounds to this one


def _read_rgba(path: str) -> Optional[np.ndarray]:
    """RGBA uint8 of an image file, or None when it has no alpha channel."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim != 3 or image.shape[2] != 4:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def flat_neighbour_share(rgba: np.ndarray) -> float:
    """Share of horizontally adjacent pixel pairs inside the mask (alpha >= 128) with equal grey.

    Drawings and clip art are filled with flat colours (shares of 0.3 to 1); photographs have
    noise and texture, so neighbours seldom match exactly (0 to 0.25 for Tux Paint's photographic
    stamps).
    """
    gray = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.int16)
    solid = rgba[..., 3] >= 128
    pairs = solid[:, 1:] & solid[:, :-1]
    n = int(pairs.sum())
    if n == 0:
        return 1.0
    return float(((gray[:, 1:] == gray[:, :-1]) & pairs).sum() / n)


def _tux_paint_flags(path: Path) -> str:
    """The options of a Tux Paint stamp (its ``.dat`` file beside the image), lower case."""
    dat = path.with_suffix(".dat")
    try:
        return dat.read_text(errors="replace").lower()
    except OSError:
        return ""


def cutout_images(folder: str | os.PathLike, min_side: int = 16,
                  max_flat_share: float = 0.3) -> list[SourceImage]:
    """Photographic object cut-outs (PNG with an alpha mask) anywhere under ``folder``.

    Skipped: images without an alpha channel or with an empty mask, masks under ``min_side``
    pixels, anything under a folder named ``cartoon``, Tux Paint's mirrored duplicates
    (``*_mirror.png``) and its single-colour templates (``colorable`` or ``tintable`` in the
    stamp's ``.dat``), and drawings: a share of equal-grey neighbour pixels inside the mask
    (``flat_neighbour_share``) of ``max_flat_share`` or more. Each is named by its path under
    ``folder``, assigned to a pool by a hash of that path, and grouped by its folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"cut-out folder not found: {folder}")
    images = []
    for path in sorted(folder.rglob("*.png")):
        rel = path.relative_to(folder)
        if (not path.is_file() or path.stem.endswith("_mirror")
                or "cartoon" in (part.lower() for part in rel.parts[:-1])):
            continue
        flags = _tux_paint_flags(path)
        if "colorable" in flags or "tintable" in flags:
            continue
        rgba = _read_rgba(str(path))
        if rgba is None or (rgba[..., 3] >= 128).sum() == 0:
            continue
        ys, xs = np.nonzero(rgba[..., 3] >= 128)
        if min(ys.max() - ys.min(), xs.max() - xs.min()) + 1 < min_side:
            continue
        if flat_neighbour_share(rgba) >= max_flat_share:
            continue
        key = rel.as_posix()
        images.append(SourceImage(f"{folder.name}/{key}", str(path), _pool_of(key), "cutout",
                                  f"{folder.name}/{rel.parent.as_posix()}"))
    return images


@lru_cache(maxsize=1024)
def load_cutout(path: str, max_side: int = CUTOUT_MAX_SIDE) -> np.ndarray:
    """A cut-out as RGBA: cropped to its mask, shrunk to ``max_side``, colours bled outwards.

    Fully transparent pixels take the colour of the nearest opaque ones (a few pixels out), so
    interpolating at the mask's edge never mixes in the arbitrary colour a PNG keeps there.
    """
    rgba = _read_rgba(path)
    if rgba is None:
        raise ValueError(f"cut-out {path} has no alpha channel")
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    if len(ys) == 0:
        raise ValueError(f"cut-out {path} has an empty mask")
    rgba = rgba[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    alpha = rgba[..., 3].astype(np.float32)
    rgb = rgba[..., :3].astype(np.float32) * (alpha[..., None] / 255.0)      # premultiplied
    h, w = alpha.shape
    scale = max_side / max(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    rgb = np.where(alpha[..., None] > 0, rgb * 255.0 / np.maximum(alpha[..., None], 1e-6), 0)
    rgb = cv2.copyMakeBorder(rgb, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    alpha = cv2.copyMakeBorder(alpha, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0)
    known = (alpha > 0).astype(np.float32)
    for _ in range(4):
        num = cv2.blur(rgb * known[..., None], (3, 3), borderType=cv2.BORDER_CONSTANT)
        den = cv2.blur(known, (3, 3), borderType=cv2.BORDER_CONSTANT)
        grow = (known == 0) & (den > 0)
        rgb[grow] = num[grow] / den[grow][:, None]
        known[grow] = 1.0
    out = np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(alpha + 0.5, 0, 255)]).astype(np.uint8)
    out.setflags(write=False)
    return out


def _picture_key(path: Path) -> tuple[str, str]:
    """Files that are sizes of one picture share a key: ``images/1920x1080.png`` of a KDE
    wallpaper package (key: the package folder), or ``Name.jpg`` and ``Name_3840x2160.jpg``."""
    if re.fullmatch(r"\d+x\d+", path.stem):
        return str(path.parent.parent), ""
    return str(path.parent), re.sub(r"[_-]?\d+x\d+$", "", path.stem)


def background_images(folder: str | os.PathLike, min_side: int = 240,
                      max_flat_share: float = 0.8) -> list[SourceImage]:
    """Background photographs (e.g. desktop wallpapers) anywhere under ``folder``.

    jpg/png/webp files (SVG and symbolic links are skipped, and so are ``screenshot.*``
    previews); of the sizes of one picture (``_picture_key``) only the largest landscape one is
    kept; pictures under ``min_side`` pixels and near-empty ones (solid colours, gradients,
    stripes: a share of flat 8x8 tiles of ``max_flat_share`` or more at the loaded size) are left
    out. They are loaded shrunk to ``BACKGROUND_MAX_SIDE``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"background folder not found: {folder}")
    best: dict[tuple[str, str], tuple[int, Path]] = {}
    for path in sorted(folder.rglob("*")):
        if (path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp") or path.is_symlink()
                or not path.is_file() or path.stem.lower() == "screenshot"):
            continue
        size = _image_size(str(path))
        if size[0] < size[1] or min(size) < min_side:
            continue
        key = _picture_key(path)
        if key not in best or size[0] * size[1] > best[key][0]:
            best[key] = (size[0] * size[1], path)
    images = []
    for _, path in sorted(best.values(), key=lambda v: str(v[1])):
        if flat_block_share(_load_background(str(path))) >= max_flat_share:
            continue
        rel = path.relative_to(folder).as_posix()
        images.append(SourceImage(f"{folder.name}/{rel}", str(path), _pool_of(rel), "background"))
    return images


@lru_cache(maxsize=256)
def _background_and_size(path: str, max_side: int = BACKGROUND_MAX_SIDE):
    """(RGB shrunk to ``max_side`` at most by area averaging, (width, height) of the file)."""
    image = _load_rgb.__wrapped__(path)
    size = (image.shape[1], image.shape[0])
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)),
                                   max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    image.setflags(write=False)
    return image, size


def _image_size(path: str) -> tuple[int, int]:
    return _background_and_size(path)[1]


def _load_background(path: str) -> np.ndarray:
    """A background photograph as RGB, shrunk to ``BACKGROUND_MAX_SIDE`` at most."""
    return _background_and_size(path)[0]


def source_rgb(src: SourceImage) -> np.ndarray:
    """The RGB picture of a photograph or background source."""
    if src.kind == "cutout":
        raise ValueError(f"{src.name} is a cut-out, not a photograph")
    return _load_background(src.path) if src.kind == "background" else _load_rgb(src.path)


# Where Debian's packages put their pictures: (role, path, package). Roles: cutouts (cutout_images),
# backgrounds (background_images), images (folder_images), image_tree (tree_images).
DEBIAN_SOURCES = (
    ("cutouts", "/usr/share/tuxpaint/stamps", "tuxpaint-stamps-default"),
    ("backgrounds", "/usr/share/wallpapers", "plasma-workspace-wallpapers"),
    ("backgrounds", "/usr/share/backgrounds/mate/nature", "mate-backgrounds"),
    ("backgrounds", "/usr/share/backgrounds/gnome", "gnome-backgrounds"),
    ("images", OPENCV_DOC_IMAGES, "opencv-doc"),
    ("image_tree", "/usr/share/doc/opencv-doc/opencv4/html", "opencv-doc"),
)


def apt_install_command(packages: Iterable[str]) -> str:
    return "apt-get install -y --no-install-recommends " + " ".join(sorted(set(packages)))


def debian_sources(root: str | os.PathLike = "/") -> tuple[dict[str, list[str]], list[str]]:
    """The folders of ``DEBIAN_SOURCES`` found under ``root``, by role, and the packages missing.

    Returns ``({"cutouts": [...], "backgrounds": [...], "images": [...], "image_tree": [...]},
    [missing package, ...])``; a package counts as missing when one of its folders is.
    """
    found: dict[str, list[str]] = {"cutouts": [], "backgrounds": [], "images": [], "image_tree": []}
    missing: list[str] = []
    for role, path, package in DEBIAN_SOURCES:
        where = Path(root) / path.lstrip("/")
        if where.is_dir():
            found[role].append(str(where))
        elif package not in missing:
            missing.append(package)
    return found, missing


@lru_cache(maxsize=64)
def _load_rgb(path: str) -> np.ndarray:
    image = read_image_rgb(path)
    image.setflags(write=False)
    return image
