"""Syntax colouring for the code and diff views, with Textual's own (theme-aware) highlighter.

Textual's TextArea only colours code when the optional tree-sitter packages are installed; the
Pygments-based ``textual.highlight`` ships with Textual itself, so the app colours code everywhere.
"""

from __future__ import annotations

from rich.style import Style as RichStyle
from rich.text import Text
from textual.content import Content
from textual.highlight import highlight
from textual.style import Style


def highlight_lines(code: str, language: str = "python") -> list[Content]:
    """One styled Content per line of ``code`` (styles use theme variables such as $text-accent)."""
    if not code:
        return []
    lines = highlight(code, language=language).split("\n", allow_blank=True)
    count = len(code.split("\n"))
    # highlight() drops a trailing newline; pad so line indices match the document's.
    return lines[:count] + [Content("")] * max(0, count - len(lines))


def to_rich_text(line: Content, base: Style) -> Text:
    """A rich Text for TextArea.get_line: foreground colours and attributes only.

    Backgrounds are left out so the TextArea's cursor-line and selection highlights still show.
    """
    text = Text(end="", no_wrap=True)
    for piece, style in line.render(base, end=""):
        rich = style.rich_style
        text.append(
            piece,
            RichStyle(
                color=rich.color, bold=rich.bold, italic=rich.italic, underline=rich.underline, dim=rich.dim
            ),
        )
    return text
