#!/bin/sh
# Checks that PYTHON (default python3) is Python 3.11 or newer before `make setup` builds the venv on it;
# says in one line what to do otherwise (exit 1). The version test runs in PYTHON itself, in syntax
# that even Python 2 parses, so an old interpreter gets the message rather than a SyntaxError.
#   scripts/check-python.sh [PYTHON]
PY=${1:-python3}
MIN_MAJOR=3
MIN_MINOR=11
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "patchloop needs Python >= $MIN_MAJOR.$MIN_MINOR: '$PY' was not found (install it, or run make PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
VERSION=$("$PY" -c 'import sys; sys.stdout.write("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) || VERSION=""
if [ -z "$VERSION" ]; then
  echo "patchloop needs Python >= $MIN_MAJOR.$MIN_MINOR: '$PY' did not run as Python (run make PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
MAJOR=${VERSION%%.*}
REST=${VERSION#*.}
MINOR=${REST%%.*}
if [ "$MAJOR" -lt "$MIN_MAJOR" ] || { [ "$MAJOR" -eq "$MIN_MAJOR" ] && [ "$MINOR" -lt "$MIN_MINOR" ]; }; then
  echo "patchloop needs Python >= $MIN_MAJOR.$MIN_MINOR, but $PY is $VERSION (install a newer one and run make PYTHON=python3.11, or newer)" >&2
  exit 1
fi
