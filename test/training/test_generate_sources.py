"""Cut-outs with alpha masks, background photographs and the Debian source folders of the
generated dataset. Every picture is made here (no package is needed or installed)."""
from __future__ import annotations

import configparser
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fartrack_ros.data.photos import (DEBIAN_SOURCES, background_images, cutout_images, debian_sources,
                                     flat_neighbour_share, load_cutout)
from fartrack_ros.data.render import Scene, Sprite, render_scene
from fartrack_ros.data.scenes import GeneratorConfig
from fartrack_ros.training.generate import generate_dataset

GREY = 90


def noisy_disc(size=80, radius=30, seed=0, soft=True):
    """A photograph-like RGBA cut-out: a noisy textured disc with a (soft) circular mask."""
    rng = np.random.default_rng(seed)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (3, 3), 0)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - (size - 1) / 2, yy - (size - 1) / 2)
    alpha = np.clip((radius - r) * (1.0 if soft else 100.0) + 0.5, 0, 1) * 255
    rgba = np.dstack([rgb, alpha.round().astype(np.uint8)])
    rgba[alpha == 0, :3] = (255, 0, 255)          # junk colour where the mask is empty
    return rgba


def drawing(size=80):
    """Clip art: one flat colour in a hard mask."""
    rgba = np.zeros((size, size, 4), np.uint8)
    cv2.circle(rgba, (size // 2, size // 2), size // 3, (20, 200, 40, 255), -1)
    return rgba


def write_rgba(path, rgba):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))


def test_flat_neighbour_share_tells_drawings_from_photographs():
    assert flat_neighbour_share(drawing()) > 0.9
    assert flat_neighbour_share(noisy_disc()) < 0.1


def test_cutout_folder_keeps_photographic_cutouts_only(tmp_path):
    root = tmp_path / "stamps"
    write_rgba(root / "animals" / "cat.png", noisy_disc(seed=1))
    write_rgba(root / "animals" / "cat_mirror.png", noisy_disc(seed=1)[:, ::-1])
    write_rgba(root / "animals" / "dog.png", noisy_disc(seed=2))
    write_rgba(root / "animals" / "cartoon" / "toon.png", noisy_disc(seed=3))
    write_rgba(root / "shapes" / "circle.png", drawing())
    write_rgba(root / "letters" / "a.png", noisy_disc(seed=4))
    (root / "letters" / "a.dat").write_text("colorable\nnoflip\n")
    write_rgba(root / "tiny.png", noisy_disc(size=12, radius=5))
    cv2.imwrite(str(root / "no_alpha.png"), noisy_disc(seed=5)[..., :3])
    kept = cutout_images(root)
    assert [im.name for im in kept] == ["stamps/animals/cat.png", "stamps/animals/dog.png"]
    assert {im.kind for im in kept} == {"cutout"}
    assert {im.group for im in kept} == {"stamps/animals"}
    with pytest.raises(FileNotFoundError, match="cut-out folder not found"):
        cutout_images(tmp_path / "missing")


def test_loaded_cutout_is_cropped_to_its_mask_with_clean_edge_colours(tmp_path):
    rgba = np.zeros((100, 120, 4), np.uint8)
    rgba[20:60, 30:90] = noisy_disc(size=60, radius=40)[10:50]        # mask rows 20..59
    rgba[20:60, 30:90, 3] = 255
    rgba[rgba[..., 3] == 0, :3] = (255, 0, 255)
    write_rgba(tmp_path / "c.png", rgba)
    out = load_cutout(str(tmp_path / "c.png"))
    assert out.shape == (40 + 4, 60 + 4, 4)                  # the mask's box and a 2-pixel border
    assert (out[2:-2, 2:-2, 3] == 255).all() and (out[:2, :, 3] == 0).all()
    # the border took the colours of the mask's edge (averaged over 3x3), not black
    step = np.abs(out[1, 2:-2, :3].astype(int) - out[2, 2:-2, :3])
    assert step.mean() < 15 and np.abs(out[0, 2:-2, :3].astype(int) - out[2, 2:-2, :3]).mean() < 20
    big = np.zeros((600, 300, 4), np.uint8)
    big[..., :3], big[..., 3] = 128, 255
    write_rgba(tmp_path / "big.png", big)
    assert max(load_cutout(str(tmp_path / "big.png")).shape[:2]) == 256 + 4


def test_cutout_target_box_is_the_tight_box_of_its_transformed_mask():
    rgba = noisy_disc(size=40, radius=12, soft=True)              # mask much smaller than 40x40
    n = 3
    target = Sprite(rgba, np.array([[30.0, 30.0], [60.0, 40.0], [-2.0, 40.0]]),
                    np.array([[40.0, 40.0], [80.0, 40.0], [40.0, 40.0]]), np.array([0.0, 30.0, 0.0]),
                    np.ones(n), 0.0, False, "target")
    occluder = np.zeros((40, 60, 4), np.uint8)
    occluder[:, :10, 3] = 255                                     # only the 10 left columns are solid
    occ = Sprite(occluder, np.array([[500.0, 500.0], [500.0, 500.0], [500.0, 500.0]]),
                 np.tile([60.0, 40.0], (n, 1)), np.zeros(n), np.ones(n), 1.0, False, "occluder")
    background = np.full((80, 100, 3), GREY, np.uint8)
    scene = Scene([target, occ], background, np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 1)),
                  np.tile([1.0, 0.0, 0.0], (n, 1)), 0.0, 0)
    out = list(render_scene(scene, 100, 80))
    # frame 0: unscaled, centred at (30, 30): patch pixel (i, j) sits at (i + 10.5, j + 10.5)
    ys, xs = np.nonzero(rgba[..., 3] >= 128)
    expected = (xs.min() + 10.5 - 0.5, ys.min() + 10.5 - 0.5, xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1)
    assert out[0][1] == pytest.approx(expected, abs=1)
    assert out[0][1][2] < 30 and out[0][3]                        # the mask's box, not the patch's
    # frame 1: stretched twice as wide and rotated: the box is wider than it is tall
    assert out[1][1][2] > out[1][1][3] + 10
    # frame 2: partly outside the frame on the left
    assert out[2][1][0] == 0 and 0 < out[2][2] < 1 and not out[2][3]
    # the soft edge is blended: some pixels lie strictly between the target and the background
    frame = out[0][0].astype(int)
    ring = np.abs(frame - GREY).sum(axis=2)
    assert ((ring > 0) & (ring < 40)).any()
    # an occluder covers by its mask only: its transparent part hides nothing ...
    occ.centre[0] = (35.0, 30.0)       # solid columns at x 5..14, left of the mask (x >= 18)
    again = list(render_scene(scene, 100, 80))
    assert again[0][2] == 1.0 and again[0][1] == out[0][1]
    # ... and its solid part hides what it covers: the box shrinks to the uncovered part
    occ.centre[0] = (44.5, 30.0)       # solid columns at x 15..24 cover the left of the mask
    covered = list(render_scene(scene, 100, 80))[0]
    assert 0.5 < covered[2] < 0.9 and covered[1][0] == 25


def background_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "wallpapers"
    photo = cv2.GaussianBlur(rng.integers(0, 256, (300, 480, 3), dtype=np.uint8), (5, 5), 0)
    (root / "Lake" / "contents" / "images").mkdir(parents=True)
    cv2.imwrite(str(root / "Lake" / "contents" / "images" / "480x300.png"), photo)
    cv2.imwrite(str(root / "Lake" / "contents" / "images" / "240x150.png"), photo[::2, ::2])
    cv2.imwrite(str(root / "Lake" / "contents" / "images" / "300x480.png"), photo[:, :300])
    cv2.imwrite(str(root / "Lake" / "contents" / "screenshot.png"), photo[::2, ::2])
    cv2.imwrite(str(root / "Field.jpg"), photo[:, ::-1])
    cv2.imwrite(str(root / "Field_960x600.jpg"), cv2.resize(photo[:, ::-1], (960, 600)))
    cv2.imwrite(str(root / "Plain.png"), np.full((300, 480, 3), 60, np.uint8))   # flat colour
    (root / "vector.svg").write_text("<svg/>")
    return root


def test_background_folder_keeps_one_size_of_each_photograph(tmp_path):
    kept = background_images(background_folder(tmp_path))
    assert [im.name for im in kept] == ["wallpapers/Field_960x600.jpg",
                                        "wallpapers/Lake/contents/images/480x300.png"]
    assert {im.kind for im in kept} == {"background"}


def test_dataset_with_cutouts_and_backgrounds(tmp_path):
    stamps = tmp_path / "stamps"
    for k in range(8):
        write_rgba(stamps / ("birds" if k < 4 else "fruit") / f"s{k}.png", noisy_disc(seed=k))
    walls = background_folder(tmp_path)
    cfg = GeneratorConfig(width=160, height=120, num_frames=12, cutout_probability=1.0)
    out = generate_dataset(tmp_path / "set", 4, seed=3, cfg=cfg, cutout_dirs=[stamps],
                           background_dirs=[walls])
    names = {p.name for p in stamps.rglob("*.png")}
    for k in range(4):
        ini = configparser.ConfigParser()
        ini.read(out / f"GEN_train_{k + 1:06d}" / "meta_info.ini")
        meta = ini["METAINFO"]
        assert meta["target_shape"] == "cutout"
        assert meta["target_image"].rsplit("/", 1)[1] in names
        first = np.loadtxt(out / f"GEN_train_{k + 1:06d}" / "groundtruth.txt", delimiter=",")[0]
        assert first[2] >= 4 and first[3] >= 4
    again = generate_dataset(tmp_path / "again", 4, seed=3, cfg=cfg, cutout_dirs=[stamps],
                             background_dirs=[walls])
    for name in ("groundtruth.txt", "cover.label", "00000012.jpg"):
        assert (out / "GEN_train_000004" / name).read_bytes() == \
            (again / "GEN_train_000004" / name).read_bytes()
    with pytest.raises(ValueError, match="no usable cut-out"):
        generate_dataset(tmp_path / "none", 1, cfg=cfg, cutout_dirs=[walls])


def test_backgrounds_are_never_targets(tmp_path):
    walls = background_folder(tmp_path)
    cfg = GeneratorConfig(width=160, height=120, num_frames=8)
    out = generate_dataset(tmp_path / "set", 6, seed=1, cfg=cfg, background_dirs=[walls])
    used = set()
    for k in range(6):
        ini = configparser.ConfigParser()
        ini.read(out / f"GEN_train_{k + 1:06d}" / "meta_info.ini")
        assert not ini["METAINFO"]["target_image"].startswith("wallpapers/")
        used.add(ini["METAINFO"]["background_image"].split("/")[0])
    assert "wallpapers" in used


def test_debian_sources_are_found_under_a_root_and_missing_packages_named(tmp_path):
    found, missing = debian_sources(tmp_path)
    assert set(missing) == {package for _, _, package in DEBIAN_SOURCES}
    for role, path, _ in DEBIAN_SOURCES:
        (tmp_path / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
        if path == "/usr/share/tuxpaint/stamps":
            break
    found, missing = debian_sources(tmp_path)
    assert found["cutouts"] == [str(tmp_path / "usr/share/tuxpaint/stamps")]
    assert "tuxpaint-stamps-default" not in missing and "opencv-doc" in missing


def test_missing_debian_packages_stop_with_the_apt_get_command(tmp_path, capsys):
    from fartrack_ros.cli.make_dataset import debian_source_dirs

    (tmp_path / "usr/share/tuxpaint/stamps").mkdir(parents=True)
    assert debian_source_dirs(install=False, root=str(tmp_path)) is None
    err = capsys.readouterr().err
    assert ("sudo apt-get install -y --no-install-recommends gnome-backgrounds mate-backgrounds "
            "opencv-doc plasma-workspace-wallpapers") in err
    for _, path, _ in DEBIAN_SOURCES:
        (tmp_path / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    found = debian_source_dirs(install=False, root=str(tmp_path))
    assert found["backgrounds"] == [str(tmp_path / p.lstrip("/")) for r, p, _ in DEBIAN_SOURCES
                                    if r == "backgrounds"]


def test_make_dataset_cli_with_cutouts_and_backgrounds(tmp_path):
    stamps = tmp_path / "stamps"
    for k in range(4):
        write_rgba(stamps / f"s{k}.png", noisy_disc(seed=k))
    walls = background_folder(tmp_path)
    run = subprocess.run([sys.executable, "-m", "fartrack_ros", "make-dataset", "--out",
                          str(tmp_path / "set"), "--sequences", "2", "--frames", "6", "--size", "160x120",
                          "--cutouts", str(stamps), "--backgrounds", str(walls)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "set" / "GEN_train_000002" / "00000006.jpg").is_file()
    bad = subprocess.run([sys.executable, "-m", "fartrack_ros", "make-dataset", "--out",
                          str(tmp_path / "x"), "--install-packages"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--debian-sources" in bad.stderr
