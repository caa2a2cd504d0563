#!/usr/bin/env bash
# Prints the path of the demo video, Debian opencv-doc's vtest.avi (768x576, 10 fps, 795
# frames of pedestrians), getting it when missing:
#   - already installed: /usr/share/doc/opencv-doc/examples/data/vtest.avi
#   - already extracted: <repo>/data/vtest.avi
#   - as root: apt-get install opencv-doc (apt-get update first when the package is unknown)
#   - otherwise: apt-get download opencv-doc and extract only vtest.avi into <repo>/data/
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SYSTEM=/usr/share/doc/opencv-doc/examples/data/vtest.avi
LOCAL=$ROOT/data/vtest.avi

log() { echo "[get_demo_video] $*" >&2; }
die() { echo "[get_demo_video] error: $*" >&2; exit 1; }

if [ -f "$SYSTEM" ]; then echo "$SYSTEM"; exit 0; fi
if [ -f "$LOCAL" ]; then echo "$LOCAL"; exit 0; fi
command -v apt-get >/dev/null || die "no $SYSTEM and no apt-get; pass a video: make demo DEMO_ARGS='--video FILE --box x,y,w,h'"

known() { apt-cache show opencv-doc >/dev/null 2>&1; }
if [ "$(id -u)" = 0 ]; then
    known || { log "apt-get update"; apt-get update -qq >&2; }
    log "apt-get install opencv-doc (for $SYSTEM)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends opencv-doc >&2
    [ -f "$SYSTEM" ] || die "opencv-doc installed but $SYSTEM is missing"
    echo "$SYSTEM"
    exit 0
fi

known || die "apt does not know opencv-doc (run apt-get update as root) and $SYSTEM is missing"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "apt-get download opencv-doc; extracting vtest.avi into $ROOT/data/"
(cd "$tmp" && apt-get download opencv-doc >&2)
mkdir -p "$ROOT/data"
dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb \
    | tar -xO ./usr/share/doc/opencv-doc/examples/data/vtest.avi > "$LOCAL.part"
mv "$LOCAL.part" "$LOCAL"
echo "$LOCAL"
