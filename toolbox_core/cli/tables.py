"""The one table printer of the ``toolbox`` list commands: readable at 80 columns, ``--json`` for scripts.

Every list command describes its columns once (:class:`Col`) and hands rows as plain dicts to
:func:`print_rows`. With ``--json`` the rows are printed as a JSON array, every field included.
Otherwise they become a Rich table sized to the terminal (``COLUMNS``): text columns wrap, id
columns are never wrapped nor cut, and when the table still does not fit, the least important
columns are left out whole (named in a note under the table; ``--json`` still has them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


@dataclass(frozen=True)
class Col:
    """One column of a table: the row key it shows, its header, and how it gives way to width.

    ``ident`` columns (ids a later command takes: ``revoke``, ``replay``; short values such as a
    cron schedule) are printed whole on one line. ``drop`` orders the columns left out on a narrow terminal: 0 never, higher first.
    """

    key: str
    header: str | None = None
    ident: bool = False
    drop: int = 0

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.key.replace("_", " ")


def cell(value: Any) -> str:
    """A value as table text: lists joined, times to the second, booleans yes/no, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        from toolbox_core.schemas import iso_utc

        return iso_utc(value)  # the APIs' one timestamp form (UTC, ``Z``)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dumps(data: Any) -> str:
    """``data`` as indented JSON text; times as ISO 8601 in UTC (``Z``), as the APIs answer them."""
    return json.dumps(data, default=_json_default, ensure_ascii=False, indent=2)


#: A text column gets at least this width (or its natural width, or its longest word up to
#: :data:`MAX_WORD_WIDTH`, whichever is the most), else it is not worth showing.
MIN_TEXT_WIDTH = 10
MAX_WORD_WIDTH = 16


def _natural(title: str, texts: list[str]) -> int:
    from rich.cells import cell_len

    return max([cell_len(title)] + [cell_len(line) for text in texts for line in text.splitlines()])


def _floor(title: str, texts: list[str]) -> int:
    from rich.cells import cell_len

    longest_word = max((cell_len(word) for text in [title, *texts] for word in text.split()), default=0)
    return min(_natural(title, texts), max(MIN_TEXT_WIDTH, min(longest_word, MAX_WORD_WIDTH)))


def _widths(titles: list[str], texts: list[list[str]], idents: list[bool], width: int) -> list[int] | None:
    """Content width of each column so the table fits ``width``; ``None`` if it cannot.

    Id columns get their whole width, text columns their floor (:func:`_floor`); what is left
    goes to the text columns that want more, least hungry first, so one long error message
    wraps instead of squeezing every other column.
    """
    count = len(titles)
    overhead = 2 * (count - 1)  # one space of padding and one divider between columns
    natural = [_natural(t, c) for t, c in zip(titles, texts, strict=True)]
    widths = [natural[i] if idents[i] else _floor(titles[i], texts[i]) for i in range(count)]
    room = width - overhead - sum(widths)
    if room < 0:
        return None
    hungry = sorted((i for i in range(count) if natural[i] > widths[i]), key=lambda i: natural[i] - widths[i])
    for left, i in enumerate(hungry):
        extra = min(natural[i] - widths[i], room // (len(hungry) - left))
        widths[i] += extra
        room -= extra
    return widths


def print_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[Col], *, as_json: bool = False,
               title: str | None = None, console: Console | None = None) -> None:
    """Print ``rows`` as JSON (``as_json``) or as a table that fits the terminal (see the module)."""
    # Rich and Typer are imported here: toolbox_core.api (loaded by every plugin) exports this.
    import typer
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if as_json:
        typer.echo(dumps(list(rows)))
        return
    console = console or Console()  # made now: reads the terminal width at run time
    shown = list(columns)
    while True:
        texts = [[cell(row.get(col.key)) for row in rows] for col in shown]
        widths = _widths([c.title for c in shown], texts, [c.ident for c in shown], console.width)
        droppable = [c for c in shown if c.drop]
        if widths is not None or not droppable:
            break
        shown.remove(max(reversed(droppable), key=lambda c: c.drop))  # ties: the rightmost first
    if widths is None:  # only columns that may not be left out: ids whole, the rest as narrow as useful
        widths = [_natural(c.title, t) if c.ident else _floor(c.title, t) for c, t in zip(shown, texts, strict=True)]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), title=title)
    for col, col_width in zip(shown, widths, strict=True):
        table.add_column(col.title, width=col_width, no_wrap=col.ident, overflow="ignore" if col.ident else "fold")
    for index in range(len(rows)):
        table.add_row(*(Text(column[index]) for column in texts))
    console.print(table)
    hidden = [c.title for c in columns if c not in shown]
    if hidden:
        console.print(Text(f"not shown at this width: {', '.join(hidden)} (--json has every field)"))
