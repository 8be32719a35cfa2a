#!/usr/bin/env bash
# System packages patchloop uses, one idempotent step each (skipped when the tool is already there):
# bubblewrap (the strongest sandbox for running generated code) and the compilers and linters of
# the languages other than Python (core/analyzers/). Installed with apt-get, as root or through
# `sudo -n`; where that is impossible each step only warns: without bubblewrap the sandbox falls
# back to a network namespace plus rlimits (core/sandbox.py), and a missing analyzer is an error
# naming this install for that language's code, never a clean verdict (`patchloop doctor` lists them).
set -u

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
UPDATED=""

# apt_install COMMAND PACKAGE WHAT: install PACKAGE unless COMMAND is already on PATH (or, for a
# path such as a library's file, unless that file exists).
apt_install() {
  local command=$1 package=$2 what=$3
  if [ -e "$command" ] || command -v "$command" >/dev/null 2>&1; then
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1; then
    if $SUDO apt-get install -y -q --no-install-recommends "$package" >/dev/null 2>&1; then
      echo "installed $package"
      return 0
    fi
    # The package lists may be missing or stale on a fresh machine: update once, then retry.
    if [ -z "$UPDATED" ] && $SUDO apt-get update -q >/dev/null 2>&1; then
      UPDATED=1
      if $SUDO apt-get install -y -q --no-install-recommends "$package" >/dev/null 2>&1; then
        echo "installed $package"
        return 0
      fi
    fi
  fi
  echo "warning: $command ($package) is not installed and could not be installed here;" >&2
  echo "         $what" >&2
  return 0
}

apt_install bwrap bubblewrap "generated code will run in the weaker fallback sandbox (see docs/EVAL.md)."
apt_install javac default-jdk-headless "Java code cannot be analyzed (javac)."
apt_install node nodejs "JavaScript code cannot be analyzed (node --check, ESLint)."
apt_install npm npm "ESLint cannot be installed into tools/eslint."
apt_install php php-cli "PHP code cannot be analyzed (php -l)."
apt_install gcc gcc "C code cannot be analyzed (gcc warnings, gcc -fanalyzer)."
apt_install g++ g++ "C++ code cannot be analyzed (g++ warnings)."
apt_install cppcheck cppcheck "C and C++ code cannot be analyzed by cppcheck."
apt_install mcs mono-mcs "C# code cannot be analyzed (mcs)."
# The framework assemblies the mcs analyzer references (core/analyzers/mcs.py: REFERENCES).
for assembly in System.Data:data System.Xml.Linq:xml-linq System.Net.Http:net-http System.Web:web \
                System.Runtime.Serialization:runtime-serialization; do
  apt_install "/usr/lib/mono/4.5/${assembly%%:*}.dll" "libmono-system-${assembly#*:}4.0-cil" \
    "C# code that uses ${assembly%%:*} will not compile in the mcs analyzer."
done
apt_install /usr/lib/mono/4.5/System.Web.Mvc.dll libmono-system-web-mvc3.0-cil \
  "C# code that uses System.Web.Mvc (ASP.NET MVC controllers) will not compile in the mcs analyzer."
# Rust: rustup's toolchain in ~/.cargo/bin counts (core/analyzers/rustc.py looks there too).
[ -x "$HOME/.cargo/bin/rustc" ] || apt_install rustc rustc "Rust code cannot be analyzed (rustc)."
[ -x "$HOME/.cargo/bin/clippy-driver" ] || apt_install clippy-driver rust-clippy "Rust code gets no clippy lints."
exit 0
