#!/usr/bin/env bash
# Installs exactly the locked Python packages (uv.lock) into $VENV with uv, which itself comes
# from PyPI into a small bootstrap environment ($BOOT): never a downloaded binary.
# Idempotent: with nothing changed, uv checks the environment against the lock in a second.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
BOOT=${BOOT:-.bootstrap}
UV_VERSION=${UV_VERSION:-0.13.9}
UV="$BOOT/bin/uv"

if ! "$UV" --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
  echo "Installing uv $UV_VERSION from PyPI into $BOOT"
  "$PYTHON" -m venv "$BOOT"
  "$BOOT/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

[ "${1:-}" = "--boot-only" ] && exit 0

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export UV_PROJECT_ENVIRONMENT="$VENV"
# --locked: refuse to run when uv.lock no longer matches pyproject.toml (never re-resolve here)
if ! "$UV" sync --locked --all-extras --python "$PYTHON" 2>"$log"; then
  cat "$log" >&2
  pkg=$(grep -oE '`[A-Za-z0-9_.-]+(==| @ )[^`]*`' "$log" | head -n1 || true)
  echo >&2
  if grep -q "needs to be updated" "$log"; then
    echo "uv.lock does not match pyproject.toml: run \`make lock\`, then \`make test\`." >&2
  else
    echo "The locked packages cannot be installed${pkg:+ ($pkg)}: the registry may no longer" \
      "have that version. Run \`make lock\` to lock versions it has, then \`make test\`." >&2
  fi
  exit 1
fi
# one line instead of uv's list of every package it installed
summary=$(grep -E '^(Installed|Uninstalled) [0-9]+ package' "$log" | tr '\n' ' ' || true)
[ -z "$summary" ] || echo "$VENV: ${summary% }, as uv.lock says"
