"""Cells of a CSV a host opens in a spreadsheet program (Excel, WPS, Numbers)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

# A cell starting with one of these is read as a formula (CSV injection, OWASP): a buyer's
# name "=HYPERLINK(...)" must stay text. Tab and CR start formulas in some programs too.
# A plain number ("-5.00" owed back, "-1001234" a Telegram group) stays a number.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
BOM = "\ufeff"  # UTF-8 with a BOM: Excel then reads Chinese names right


def safe_cell(value: object) -> str:
    """Text as the spreadsheet shows it: None empty, a formula-looking text quoted with '."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) and not NUMBER.match(text) else text


def decimal_amount(cents: int) -> str:
    """Cents as a decimal amount (12345 -> "123.45"), never a float's rounding."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def csv_line(cells: Iterable[str]) -> str:
    """One CSV record (RFC 4180: quoted where needed, CRLF)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(list(cells))
    return out.getvalue()
