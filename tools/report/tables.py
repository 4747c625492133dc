"""Headline numbers as tables: what ``record_metrics`` stored, formatted for people.

Numbers show 4 significant digits (``1.234×10⁻⁵`` for tiny or huge ones), booleans yes/no; a list of
records (a sweep), a dict of records, a matrix or a dict of values each become a table of their own.
The summary page (:mod:`tools.report.summary`) shows them as Markdown tables.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

MAX_LIST_ITEMS_INLINE = 12  # a list as a headline number: shortened beyond this many values
MAX_LIST_ITEMS_IN_CELL = 3  # a list inside a table's cell (e.g. accuracy per epoch of a sweep row)


@dataclass
class Table:
    """A table ready to draw: cells are already formatted strings."""
    title: str | None
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # per column: right-align


def humanise(name: str) -> str:
    """``"test_mse"`` -> ``"test mse"``: labels for keys and file names."""
    return name.replace("_", " ").strip()


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def format_value(value, max_items: int = MAX_LIST_ITEMS_INLINE) -> str:
    """A headline value as text: floats to 4 significant digits, ``1.234×10⁻⁵`` for tiny/huge ones;
    a list longer than ``max_items`` keeps its first values and its last: ``[1, 2, …, 9] (9 values)``."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.4g}"
        if "e" not in text and "." not in text and not value.is_integer():
            # 0.99996 -> "1.000", not "1": rounded, not exact; but 1548.6 -> "1549", not "1549."
            return f"{value:#.4g}".rstrip(".")
        if "e" not in text:
            return text
        mantissa, exponent = text.split("e")
        return f"{mantissa}\u00d710{str(int(exponent)).translate(_SUPERSCRIPT)}"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        if len(value) <= max_items:
            return "[" + ", ".join(map(format_value, value)) + "]"
        head = ", ".join(map(format_value, value[:max(1, max_items - 1)]))
        return f"[{head}, \u2026, {format_value(value[-1])}] ({len(value)} values)"
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 200 else text[:197] + "\u2026"


def format_cell(value, max_items: int = MAX_LIST_ITEMS_IN_CELL) -> str:
    """A value inside a table's cell: like :func:`format_value`, but a list longer than ``max_items``
    keeps only its first and last values, ``[0.7412 … 0.7982] (20 values)``, joined by no-break
    spaces, so a sweep table fits the page and its list cells wrap onto two lines at most."""
    if not (isinstance(value, list) and len(value) > max_items and all(_is_scalar(v) for v in value)):
        return format_value(value, max_items)
    return f"[{format_value(value[0])}\u00a0\u2026\u00a0{format_value(value[-1])}] ({len(value)}\u00a0values)"


def format_seconds(seconds: float | None) -> str:
    return "\u2014" if seconds is None else f"{seconds:.1f} s"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table(title: str | None, header: list[str], raw_rows: list[list],
           max_items: int = MAX_LIST_ITEMS_IN_CELL, formatter=format_cell) -> Table:
    numeric = [all(_is_number(row[c]) or row[c] is None for row in raw_rows) and
               any(_is_number(row[c]) for row in raw_rows) for c in range(len(header))]
    rows = [[formatter(v, max_items) for v in row] for row in raw_rows]
    return Table(title, header, rows, numeric)


def _records_table(title: str, records: list[dict], key_column: str | None = None,
                   keys: list | None = None) -> Table:
    columns: list[str] = []
    for record in records:
        columns += [c for c in record if c not in columns]
    keyed = key_column is not None
    header = ([key_column] if keyed else []) + [humanise(str(c)) for c in columns]
    rows = [([key] if keyed else []) + [record.get(c) for c in columns]
            for key, record in zip(keys or [None] * len(records), records)]
    return _table(title, header, rows)


def _fits_a_cell(value) -> bool:
    """A single value or a flat list of them (shown inline, shortened when long)."""
    return _is_scalar(value) or (isinstance(value, list) and all(map(_is_scalar, value)))


def _is_record(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(map(_fits_a_cell, value.values()))


def _as_table(label: str, value) -> Table | None:
    """A table for a structured headline value, or None when it fits in one row."""
    if isinstance(value, list) and value and all(map(_is_record, value)):
        return _records_table(label, value)
    if isinstance(value, dict) and value and all(map(_is_record, value.values())):
        return _records_table(label, list(value.values()), key_column="", keys=list(value))
    if isinstance(value, list) and value and all(isinstance(v, list) and v and all(map(_is_scalar, v))
                                                 for v in value):
        width = max(len(v) for v in value)
        rows = [[i] + v + [None] * (width - len(v)) for i, v in enumerate(value)]
        return _table(label, [""] + [str(j) for j in range(width)], rows)
    if _is_record(value):
        return _table(label, ["", "value"], [[str(k), v] for k, v in value.items()])
    return None


def headline_tables(metrics: dict) -> list[Table]:
    """The section's headline numbers: one table of single values, then one per structured value.

    A list of records (e.g. a sweep) or a dict of records becomes a table with a column per field
    (a field may hold a short list, shown inline), a list of lists (e.g. a confusion matrix) a matrix,
    a dict of values a two-column table; anything deeper is shown as JSON.
    """
    singles, structured = [], []
    for key, value in metrics.items():
        table = None if _is_scalar(value) else _as_table(humanise(key), value)
        if table is None:
            singles.append([humanise(key), value])
        else:
            structured.append(table)
    tables = ([_table(None, ["headline number", "value"], singles, MAX_LIST_ITEMS_INLINE, format_value)]
              if singles else [])
    if tables:  # the value column mixes text and numbers: align it right when most are numbers
        tables[0].numeric[1] = sum(_is_number(v) for _, v in singles) * 2 >= len(singles)
    return tables + structured
