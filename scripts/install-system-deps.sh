#!/usr/bin/env bash
# System packages patchloop uses when present: bubblewrap (the strongest sandbox for running
# generated code). Without it the sandbox falls back to a network namespace plus rlimits and an
# unprivileged uid (see core/sandbox.py), so a failure here is a warning, not an error.
set -u
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  if $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1 \
     || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1; }; then
    echo "installed bubblewrap"
    exit 0
  fi
fi
echo "warning: bubblewrap (bwrap) is not installed and could not be installed here;" >&2
echo "         generated code will run in the weaker fallback sandbox (see docs/EVAL.md)." >&2
exit 0
