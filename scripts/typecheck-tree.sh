#!/bin/sh
# The tree the type checker reads the package through. pyproject.toml maps the package's folders
# (core -> patchloop.core, tui -> patchloop.tui, ...), which an editable install resolves only at run
# time; this tree of links gives basedpyright the same names (build/typecheck is in its extraPaths).
set -e
cd "$(dirname "$0")/.."
tree=build/typecheck/patchloop
rm -rf build/typecheck
mkdir -p "$tree"
for file in patchloop/*.py; do
    ln -s "../../../$file" "$tree/"
done
for folder in core tui train assets; do
    ln -s "../../../$folder" "$tree/$folder"
done
