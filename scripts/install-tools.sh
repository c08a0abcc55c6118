#!/usr/bin/env bash
# Installs the system tools iscc-lab needs, from Debian's packages: ffmpeg and ffprobe (video),
# fpcalc (audio). Idempotent: does nothing when they are already there.
set -euo pipefail

missing=()
command -v ffmpeg  >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fpcalc  >/dev/null 2>&1 || missing+=(libchromaprint-tools)
extra=("$@")   # further Debian packages a target wants (e.g. chromium for browser tests)
for pkg in "${extra[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if ! command -v apt-get >/dev/null 2>&1; then
  echo "iscc-lab needs: $pkgs -- install them with your system's package manager" >&2
  echo "(ffmpeg provides ffmpeg and ffprobe; chromaprint's fpcalc comes with libchromaprint-tools)." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "iscc-lab needs: $pkgs -- run as root: apt-get install $pkgs" >&2; exit 1
  fi
fi
echo "Installing system packages: $pkgs"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
