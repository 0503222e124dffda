"""Printing rows as a table (rich), JSON or CSV, the same way for every listing."""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of `list`)
if TYPE_CHECKING:
    from typing import Any

FORMATS = ("table", "json", "csv")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    if value is None or value == "":
        return "-"
    return str(value)


def emit(rows: list[dict[str, Any]], columns: list[str], fmt: str, document: Any = None) -> None:
    """Print rows; json prints document when given (for nested reports), else the rows."""
    if fmt == "json":
        json.dump(document if document is not None else rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    elif not sys.stdout.isatty():
        # Plain columns in pipes: grep- and awk-friendly, and 50x cheaper than rendering with rich.
        cells = [[c.upper() for c in columns]] + [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        for r in cells:
            sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    else:
        from rich import box
        from rich.console import Console
        from rich.table import Table

        console = Console(highlight=False, soft_wrap=False)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for c in columns:
            table.add_column(c.upper(), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console.print(table)


def status(message: str) -> None:
    """A progress or status line on stderr (stdout stays for data)."""
    print(message, file=sys.stderr)
