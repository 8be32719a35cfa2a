#!/usr/bin/env bash
# Builds llama-cpp-python (the llama.cpp engine for GGUF models on the CPU) once, caches the
# wheel outside the repository, installs it into the venv and checks that the built library
# really evaluates. PyPI ships only its source, and compiling takes 10-25 minutes on 2 cores,
# so the wheel is cached per version and CPU feature set and never compiled twice.
#
# Any failure here is a warning, not an error: without llama_cpp patchloop runs GGUF models on
# the transformers engine (slower, same answers), so `make setup`/`make test` must not break.
#
# usage: scripts/build-llama-wheel.sh [VENV_PYTHON]      build (or reuse) + install + check
#        scripts/build-llama-wheel.sh --build-only       only fill the wheel cache
# env:   PATCHLOOP_WHEEL_CACHE    cache folder (default ${XDG_CACHE_HOME:-~/.cache}/patchloop/wheels)
#        PATCHLOOP_LLAMA_CMAKE_ARGS  replaces the detected CMake flags (e.g. for a GPU build)
#        PATCHLOOP_SKIP_LLAMA=1   skip it altogether (transformers engine only)
set -u

LLAMA_VERSION=0.3.36  # measured in docs/PERFORMANCE.md; bump deliberately (the API is used directly)
BUILD_ONLY=0
PY=.venv/bin/python
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; PY=""; elif [ -n "${1:-}" ]; then PY="$1"; fi

warn() { echo "warning: $*" >&2; }
fallback() {
  warn "$1"
  warn "GGUF models will run on the transformers engine (slower); see README, 'Engines'."
  exit 0
}

if [ "${PATCHLOOP_SKIP_LLAMA:-0}" = "1" ]; then
  fallback "PATCHLOOP_SKIP_LLAMA=1: not installing llama-cpp-python"
fi

# CPU flags. GGML_NATIVE=ON (the default) compiles with -march=native, which follows CPUID;
# inside some VMs CPUID offers instructions the kernel has not enabled (AMX tiles, for one)
# and the library crashes at the first evaluation. /proc/cpuinfo lists only what the kernel
# enabled, so on x86-64 the flags are taken from there; elsewhere the defaults are fine.
cpu_cmake_args() {
  local flags args
  if [ "$(uname -m)" != "x86_64" ] || [ ! -r /proc/cpuinfo ]; then
    echo ""
    return
  fi
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { case "$flags" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
  on() { if has "$1"; then echo ON; else echo OFF; fi; }
  args="-DGGML_NATIVE=OFF"
  args="$args -DGGML_SSE42=$(on sse4_2) -DGGML_AVX=$(on avx) -DGGML_F16C=$(on f16c)"
  args="$args -DGGML_FMA=$(on fma) -DGGML_AVX2=$(on avx2) -DGGML_BMI2=$(on bmi2)"
  args="$args -DGGML_AVX_VNNI=$(on avx_vnni)"
  # ggml's AVX512 switch needs the F/CD/BW/DQ/VL set (it passes -mavx512f -mavx512bw ... together).
  if has avx512f && has avx512cd && has avx512bw && has avx512dq && has avx512vl; then
    args="$args -DGGML_AVX512=ON -DGGML_AVX512_VBMI=$(on avx512vbmi)"
    args="$args -DGGML_AVX512_VNNI=$(on avx512_vnni) -DGGML_AVX512_BF16=$(on avx512_bf16)"
  else
    args="$args -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
  fi
  if has amx_tile && has amx_int8; then
    args="$args -DGGML_AMX_TILE=ON -DGGML_AMX_INT8=ON"
  else
    args="$args -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
  fi
  echo "$args"
}

# The multimodal helper library (mtmd) is not used by patchloop: skipping it saves build time.
CMAKE_ARGS_USED="${PATCHLOOP_LLAMA_CMAKE_ARGS-$(cpu_cmake_args)} -DLLAVA_BUILD=OFF"
KEY=$(printf '%s' "$LLAMA_VERSION $CMAKE_ARGS_USED" | sha256sum | cut -c1-12)
CACHE_ROOT="${PATCHLOOP_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/patchloop/wheels}"
CACHE_DIR="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION-$KEY"
mkdir -p "$CACHE_ROOT" || fallback "cannot create the wheel cache $CACHE_ROOT"

find_wheel() { ls "$CACHE_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n1; }

build_wheel() {
  local tmp builder
  # pip builds in an isolated environment, so any Python 3 with pip will do; the wheel is
  # tagged py3-none (ctypes bindings), so it installs into the venv's Python as well.
  builder="${PY:-python3}"
  [ -x "$builder" ] || builder=python3
  rm -rf "$CACHE_ROOT"/.build-*  # logs of earlier failed builds (we hold the lock)
  tmp=$(mktemp -d "$CACHE_ROOT/.build-XXXXXX") || return 1
  echo "building llama-cpp-python $LLAMA_VERSION (once; 10-25 min on 2 cores)"
  echo "  CMAKE_ARGS=$CMAKE_ARGS_USED"
  if CMAKE_ARGS="$CMAKE_ARGS_USED" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
      "$builder" -m pip wheel --no-deps --no-binary llama-cpp-python \
      "llama-cpp-python==$LLAMA_VERSION" -w "$tmp" >"$tmp/build.log" 2>&1; then
    # Renamed into place only when complete, so an interrupted build is never trusted.
    mv "$tmp" "$CACHE_DIR.part.$$" && mv "$CACHE_DIR.part.$$" "$CACHE_DIR"
    return $?
  fi
  warn "llama-cpp-python build failed; log: $tmp/build.log"
  tail -n 20 "$tmp/build.log" >&2
  return 1
}

# One build at a time: a second set-up (say `make test` while a build runs) waits for it.
exec 9>"$CACHE_ROOT/.llama-build.lock"
flock 9 2>/dev/null || true
WHEEL=$(find_wheel)
if [ -z "$WHEEL" ]; then
  build_wheel || fallback "could not build llama-cpp-python"
  WHEEL=$(find_wheel)
fi
[ -n "$WHEEL" ] || fallback "no llama-cpp-python wheel in $CACHE_DIR"
echo "llama-cpp-python wheel: $WHEEL"
[ "$BUILD_ONLY" = "1" ] && exit 0

[ -x "$PY" ] || fallback "no Python at $PY to install llama-cpp-python into"
"$PY" -m pip install -q "$WHEEL" || fallback "could not install $WHEEL"

# A wheel that imports can still crash at the first evaluation (wrong CPU flags), so the
# check loads a model and evaluates in a child process; a crash there removes the engine
# instead of taking the app down later.
if ! "$PY" -m patchloop.core.backends.llamacpp_check; then
  "$PY" -m pip uninstall -y -q llama-cpp-python
  fallback "the built llama.cpp library failed its check and was uninstalled"
fi
echo "llama.cpp engine ready"
