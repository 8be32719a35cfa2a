"""The look the bordered panes share (code, findings, diff): a muted round border with its titles,
the accent border while focused."""

from __future__ import annotations


def pane_css(type_name: str, rules: str = "") -> str:
    """A pane widget's DEFAULT_CSS; ``rules``: the widget's own, nested in its block."""
    return f"""
    {type_name} {{
        height: 1fr;
        border: round $foreground 25%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus {{ border: round $accent; border-title-color: $text; }}{rules}
    }}
    """
