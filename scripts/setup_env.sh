#!/usr/bin/env bash
# Create or update the two test environments idempotently.
#   scripts/setup_env.sh main       -> .venv            (Python 3.11: torch CPU, jax, flax, ...)
#   scripts/setup_env.sh megengine  -> .venv-megengine  (Python 3.9 from Debian 11, MegEngine 1.13.0)
#   scripts/setup_env.sh docs       -> build/vendor/katex (KaTeX from npm, served locally by the
#                                      docs site) and Debian's chromium (the rendering check)
# A stamp file holding a hash of the requirements makes a second run a no-op.
# Under CI=true any failure is fatal (make test fails instead of skipping a backend).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MAIN_REQS=(numpy scipy "torch==2.13.0" "triton==3.9.0" jax jaxlib flax mpmath gmpy2 ml_dtypes pytest hypothesis ruff
  # the docs site and plots (pinned: pyproject's "docs" extra)
  "mkdocs==1.6.1" "mkdocs-material==9.8.1" "mkdocstrings==1.0.8" "mkdocstrings-python==2.0.11"
  "pymdown-extensions==13.1" "matplotlib==3.11.2"
  # ONNX export checked in onnxruntime (pyproject's "onnx" extra)
  "onnx==1.23.2" "onnxscript==0.7.2" "onnxruntime==1.32.0")
KATEX_VERSION=0.16.22
MGE_REQS=("megengine==1.13.0" "numpy<2" "setuptools<70" scipy mpmath gmpy2 ml_dtypes pytest hypothesis)

stamp_ok() {  # $1 venv dir, $2 content
  [ -f "$1/.polyact-stamp" ] && [ "$(cat "$1/.polyact-stamp")" = "$2" ]
}

pyproject_hash() { sha1sum pyproject.toml | cut -c1-12; }

setup_main() {
  local venv=.venv key
  key="main|${MAIN_REQS[*]}|$(pyproject_hash)"
  if stamp_ok "$venv" "$key" && "$venv/bin/python" -c "import polyact, torch, triton, jax, flax, mpmath, mkdocs, matplotlib, onnx, onnxscript, onnxruntime" 2>/dev/null; then
    echo "[setup] $venv is up to date"; return 0
  fi
  local py=${PYTHON311:-}
  if [ -z "$py" ]; then
    for c in python3.11 python3 /usr/bin/python3.11 "$HOME"/.pyenv/versions/3.11*/bin/python3.11; do
      if command -v "$c" >/dev/null 2>&1 \
        && "$c" -c 'import sys, ensurepip, venv; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
        py=$(command -v "$c"); break
      fi
    done
  fi
  [ -n "$py" ] || { echo "[setup] no Python 3.11 found" >&2; return 1; }
  echo "[setup] building $venv with $py"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  # torch first and pinned: the local CPU build; anything else pulls CUDA wheels.
  "$venv/bin/python" -m pip install -q "torch==2.13.0"
  "$venv/bin/python" -m pip install -q "${MAIN_REQS[@]}"
  "$venv/bin/python" -m pip install -q --no-deps -e .
  echo "$key" > "$venv/.polyact-stamp"
}

find_python39() {
  for c in /usr/bin/python3.9 "${PYTHON39:-}"; do
    [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import distutils, lib2to3' 2>/dev/null && { echo "$c"; return 0; }
  done
  return 1
}

install_python39() {
  # The recipe of DESIGN.md: Debian 11's python3.9 from the same archive.
  [ "$(id -u)" = 0 ] || { echo "[setup] need root to apt-get install python3.9" >&2; return 1; }
  if [ ! -f /etc/apt/sources.list.d/bullseye.sources ]; then
    cat > /etc/apt/sources.list.d/bullseye.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.9 >/dev/null
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q python3-distutils=3.9.2-1 python3-lib2to3=3.9.2-1 >/dev/null)
  for f in "$tmp"/*.deb; do dpkg -x "$f" /; done
  rm -rf "$tmp"
}

setup_megengine() {
  local venv=.venv-megengine key
  key="mge|${MGE_REQS[*]}|$(pyproject_hash)"
  if stamp_ok "$venv" "$key" && "$venv/bin/python" -c "import polyact, megengine" 2>/dev/null; then
    echo "[setup] $venv is up to date"; return 0
  fi
  local py
  py=$(find_python39) || { install_python39 && py=$(find_python39); } || {
    echo "[setup] could not provide Python 3.9 for MegEngine" >&2; return 1; }
  echo "[setup] building $venv with $py"
  if [ ! -x "$venv/bin/python" ]; then
    [ -x .venv/bin/python ] || setup_main
    .venv/bin/python -m pip install -q virtualenv
    .venv/bin/python -m virtualenv -q -p "$py" "$venv"
  fi
  "$venv/bin/python" -m pip install -q "${MGE_REQS[@]}"
  "$venv/bin/python" -m pip install -q --no-deps -e .
  echo "$key" > "$venv/.polyact-stamp"
}

setup_docs() {
  # KaTeX renders the formulas in the browser from the site's own files (no CDN):
  # its npm tarball's dist/ goes to build/vendor/katex.
  local dir=build/vendor/katex
  if [ -f "$dir/katex.min.js" ] && [ "$(cat "$dir/.version" 2>/dev/null)" = "$KATEX_VERSION" ]; then
    echo "[setup] $dir is up to date"
  else
    command -v npm >/dev/null || { echo "[setup] npm is needed to fetch KaTeX $KATEX_VERSION" >&2; return 1; }
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack -q "katex@$KATEX_VERSION" >/dev/null 2>&1 && tar xzf "katex-$KATEX_VERSION.tgz")
    [ -f "$tmp/package/dist/katex.min.js" ] || { echo "[setup] npm pack katex@$KATEX_VERSION failed" >&2; rm -rf "$tmp"; return 1; }
    rm -rf "$dir"; mkdir -p build/vendor; mv "$tmp/package/dist" "$dir"; rm -rf "$tmp"
    echo "$KATEX_VERSION" > "$dir/.version"
    echo "[setup] KaTeX $KATEX_VERSION in $dir"
  fi
  # Debian's chromium: the docs test checks that a page's formula renders as math.
  if ! command -v chromium >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "[setup] need root to apt-get install chromium" >&2; return 1; }
    echo "[setup] installing Debian's chromium"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
  fi
}

case "${1:-all}" in
  main) setup_main ;;
  megengine) setup_megengine ;;
  docs) setup_docs ;;
  all) setup_main; setup_megengine; setup_docs ;;
  *) echo "usage: $0 [main|megengine|docs|all]" >&2; exit 2 ;;
esac
