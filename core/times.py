"""The one time format of the log: ISO 8601 in UTC, to the second ("2025-06-01T10:30:00+00:00").

Every time the log stores (``created``, ``started_at``, ``finished_at``, eval ``finished``,
``_migrations.applied_at``) is this text. It sorts in time order as plain text, which the age
checks (unfinished runs, ``log prune --older-than``) rely on. Tables print it to the minute
("2025-06-01 10:30", headed UTC); JSON output keeps the stored text. Rows from before migration
m008 held ``started_at``/``finished_at`` as epoch seconds and ``applied_at`` with microseconds:
``parse`` reads those too.
"""

from __future__ import annotations

import datetime

UTC = datetime.UTC


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def now() -> str:
    return iso(datetime.datetime.now(UTC))


def ago(age: datetime.timedelta) -> str:
    """The time ``age`` before now, for comparing with stored times."""
    return iso(datetime.datetime.now(UTC) - age)


def parse(value: str | float | None) -> datetime.datetime | None:
    """A stored time as an aware datetime: ISO text (with or without a zone: UTC is assumed), or
    epoch seconds (a number, or its text) as older rows hold them. None or unreadable: None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                moment = datetime.datetime.fromisoformat(value)  # 3.11+ reads a trailing Z
            except ValueError:
                return None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return datetime.datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def normalize(value: str | float | None) -> str | None:
    """Any stored form in the one format (None when there is none or it cannot be read)."""
    moment = parse(value)
    return None if moment is None else iso(moment)


def display(value: str | float | None) -> str:
    """To the minute, for tables: "2025-06-01 10:30" (UTC); "" when unknown."""
    moment = parse(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""
