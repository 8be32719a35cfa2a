"""Line alignment for the side-by-side view of two iterations (difflib does the matching)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

RowKind = Literal["equal", "replace", "delete", "insert"]


@dataclass(frozen=True)
class DiffRow:
    """One screen row: a line of the left code, of the right code, or both (None: blank filler)."""

    left: int | None  # 0-based line index into the left code
    right: int | None
    kind: RowKind


def side_by_side(left: list[str], right: list[str]) -> list[DiffRow]:
    """Rows pairing equal lines, replaced blocks line by line, and deletions/insertions with fillers."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(DiffRow(i, j, "equal") for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
        elif tag == "replace":
            for i, j in zip_longest(range(i1, i2), range(j1, j2)):
                kind: RowKind = (
                    "replace" if i is not None and j is not None else ("delete" if j is None else "insert")
                )
                rows.append(DiffRow(i, j, kind))
        elif tag == "delete":
            rows.extend(DiffRow(i, None, "delete") for i in range(i1, i2))
        else:
            rows.extend(DiffRow(None, j, "insert") for j in range(j1, j2))
    return rows


def change_counts(rows: list[DiffRow]) -> tuple[int, int]:
    """(lines removed from the left, lines added on the right); a replaced line counts as both."""
    removed = sum(1 for r in rows if r.kind in ("replace", "delete"))
    added = sum(1 for r in rows if r.kind in ("replace", "insert"))
    return removed, added
