#!/usr/bin/env bash
# One command installs everything: Debian packages, then a virtual environment with the pinned
# versions of requirements.lock, then the bundled models (assembled and hash-checked).
#
# The environment lives outside the clone, keyed by the lock file's hash, so a second install
# on the same machine (every CI run starts in a fresh clone) takes seconds; ./.venv links to it.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(ffmpeg sox libsox-fmt-all espeak-ng libsndfile1 chromium)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
lock_hash=$(cat requirements.lock | sha256sum | cut -c1-16)
VENV=${CALLQA_VENV:-$HOME/.cache/callqa/venv-$lock_hash}
if [ ! -f "$VENV/.complete" ]; then
  echo "creating the environment $VENV (first install on this machine: several GB, a few minutes)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements.lock
  touch "$VENV/.complete"
fi
# The project itself, editable: code changes need no reinstall. No dependency resolution here.
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e . >/dev/null
ln -sfn "$VENV" .venv
.venv/bin/callqa models prepare
echo "installed: activate with 'source .venv/bin/activate' or call .venv/bin/callqa"
