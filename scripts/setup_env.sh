#!/usr/bin/env bash
# Creates or refreshes the project's environment:
#   1. a venv (Python 3.11: the ROS 2 wheels are cp311),
#   2. pip install -r requirements.txt -r requirements-ros.txt (skipped when unchanged),
#   3. rewrites the build-container paths the ROS wheels carry in their CMake export files,
#   4. builds interfaces/vision_msgs and this package's msg/srv with CMake into the venv prefix,
#   5. installs this package in editable mode (the `fartrack` command; sources stay live).
# Every step is idempotent; the Makefile calls this when the venv is missing or older than its
# inputs. Nothing needs sourcing afterwards: the ros-wheels bootstrapper sets the library path.
#
# Environment: VENV (default <repo>/.venv), PYTHON (default python3), CMAKE_GENERATOR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
BUILD_ROOT=$ROOT/build/venv        # not build/<pkg>: that is where colcon builds
STAMP=$VENV/.fartrack-env-stamp

log() { echo "[setup_env] $*" >&2; }
die() { echo "[setup_env] error: $*" >&2; exit 1; }

cd "$ROOT"
rm -f "$STAMP"    # written again only when every step below succeeded

# 1. The venv. Recreated when its interpreter no longer runs (moved repo, removed pyenv build).
if ! "$VENV/bin/python" -c pass >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null || die "'$PYTHON' not found; set PYTHON to a Python 3.11 interpreter"
    version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$version" = "3.11" ] || die "'$PYTHON' is Python $version; the ROS 2 wheels need 3.11 (set PYTHON=...)"
    log "creating $VENV with $PYTHON"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY=$VENV/bin/python
PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -f "$PYINC/Python.h" ] || die "no Python.h in $PYINC (rosidl builds a C extension); on Debian: apt-get install python3.11-dev"

# 2. Python packages, reinstalled only when a requirements file changed.
req_hash=$(cat requirements.txt requirements-ros.txt | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.fartrack-requirements" 2>/dev/null || true)" != "$req_hash" ]; then
    log "pip install -r requirements.txt -r requirements-ros.txt"
    # (grep: pip warns about every package missing from the local file:// mirrors)
    if ! "$PY" -m pip install -q -r requirements.txt -r requirements-ros.txt 2>&1 \
            | { grep -v "^WARNING: Location 'file://" || true; }; then
        die "pip install failed"
    fi
    echo "$req_hash" > "$VENV/.fartrack-requirements"
fi

# 3. The wheels' CMake exports name the container that built them (/opt/python/cp311-cp311).
{ grep -rl --include='*.cmake' /opt/python/cp311-cp311 "$VENV/share" 2>/dev/null || true; } | xargs -r sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages#$SITE#g"

# 4. Interfaces, dependencies first. AMENT_PREFIX_PATH is needed when cmake configures and when
#    ninja re-runs it during the build.
command -v cmake >/dev/null || die "cmake not found (apt-get install -y cmake ninja-build)"
generator=${CMAKE_GENERATOR:-}
if [ -z "$generator" ]; then
    if command -v ninja >/dev/null; then generator=Ninja; else generator="Unix Makefiles"; fi
fi
export AMENT_PREFIX_PATH=$VENV
build_into_venv() {  # <source dir> <package name> [extra cmake args...]
    local src=$1 name=$2 build=$BUILD_ROOT/$2; shift 2
    # A cache from another checkout or generator cannot be reused.
    if [ -f "$build/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$build/CMakeCache.txt"; then
        rm -rf "$build"
    fi
    if [ -f "$build/CMakeCache.txt" ] && ! grep -qx "CMAKE_GENERATOR:INTERNAL=$generator" "$build/CMakeCache.txt"; then
        rm -rf "$build"
    fi
    log "building $name into $VENV"
    cmake -S "$src" -B "$build" -G "$generator" -Wno-dev \
        -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
        -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF "$@" >"$build.log" 2>&1 \
        || { tail -n 40 "$build.log" >&2; die "cmake configure of $src failed (full log: $build.log)"; }
    cmake --build "$build" --target install -- -j"$(nproc)" >>"$build.log" 2>&1 \
        || { tail -n 40 "$build.log" >&2; die "build of $src failed (full log: $build.log)"; }
}
mkdir -p "$BUILD_ROOT"
build_into_venv "$ROOT/interfaces/vision_msgs" vision_msgs
build_into_venv "$ROOT" fartrack_ros -DFARTRACK_INSTALL_PYTHON_SOURCES=OFF

# 5. Editable install: `fartrack` on the venv's PATH, the source tree on sys.path (compat mode
#    = a plain .pth path entry, which pkgutil.extend_path in fartrack_ros/__init__.py needs to
#    merge the sources with the generated fartrack_ros.msg / .srv in site-packages).
#    The distribution is named "fartrack": "fartrack_ros" is the egg-info of the CMake build.
if ! "$PY" -m pip show -q fartrack >/dev/null 2>&1 || [ ! -x "$VENV/bin/fartrack" ]; then
    log "pip install -e . (editable, compat mode)"
    "$PY" -m pip install -q --no-deps -e "$ROOT" --config-settings editable_mode=compat
fi

# Check the result the way every user of the venv will meet it: from outside the repository.
(cd / && "$PY" -c 'import rclpy, cv2, torch, vision_msgs.msg, std_srvs.srv, sensor_msgs.msg
import fartrack_ros.msg, fartrack_ros.srv, fartrack_ros.cli') \
    || die "the venv at $VENV cannot import the ROS interfaces or fartrack_ros"

date -u +%Y-%m-%dT%H:%M:%SZ > "$STAMP"
log "environment ready: $VENV"
