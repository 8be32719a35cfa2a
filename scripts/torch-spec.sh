#!/usr/bin/env bash
# Prints the pip arguments that install torch for this machine (used by `make setup`):
#   scripts/torch-spec.sh PYTHON [SPEC]      e.g. scripts/torch-spec.sh .venv/bin/python torch==2.13.0
# PyPI's Linux torch is the CUDA build, which pulls gigabytes of nvidia-* wheels. So on Linux without
# a GPU (no nvidia-smi, no /dev/nvidia*) the CPU build is taken from PyTorch's CPU index, with PyPI
# as the extra index for torch's own dependencies -- unless pip already resolves SPEC to a CPU build
# here (a local wheel folder or mirror in pip's config): then the plain SPEC is printed, so machines
# that reach only their own package sources keep working. Elsewhere (a GPU, macOS, Windows) the
# plain SPEC: PyPI's build for the platform.
# env: TORCH_BUILD=auto|cpu|gpu (default auto: detect), TORCH_CPU_INDEX (PyTorch's CPU index)
set -euo pipefail

PY=${1:?usage: torch-spec.sh PYTHON [SPEC]}
SPEC=${2:-torch==2.13.0}
BUILD=${TORCH_BUILD:-auto}
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}

has_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && return 0
  compgen -G "/dev/nvidia[0-9]*" >/dev/null
}

# The version pip picks for SPEC from the sources it is configured with, without installing it.
resolved_version() {
  "$PY" -m pip install --dry-run --no-deps --ignore-installed --quiet --report - "$SPEC" 2>/dev/null \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["install"][0]["metadata"]["version"])' 2>/dev/null
}

case "$BUILD" in
  auto)
    if [ "$(uname -s)" != Linux ] || has_gpu; then
      echo "$SPEC"
      exit 0
    fi ;;
  gpu) echo "$SPEC"; exit 0 ;;
  cpu) ;;
  *) echo "torch-spec.sh: TORCH_BUILD must be auto, cpu or gpu, not '$BUILD'" >&2; exit 2 ;;
esac

case "$(resolved_version)" in
  *+cpu*) echo "$SPEC" ;;  # a CPU build is already at hand in pip's own sources
  *) echo "--index-url $CPU_INDEX --extra-index-url https://pypi.org/simple $SPEC" ;;
esac
