"""Keep text cells of CSV files from being run as formulas by spreadsheet programs.

A CSV cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by Excel, LibreOffice and Google Sheets ("CSV injection"); a target id
or a note such as ``=HYPERLINK("http://...")`` taken from a user's file would then run
when a colleague opens the table. OWASP's advice is to prefix such cells with a single
quote, which spreadsheets show as text and do not evaluate. Only *text* cells are
neutralised: numbers (``-0.5``) stay numbers.

Reading a table back, :func:`restore_formula` removes the quote again, but only when the
text after it begins with one of the formula characters, so a cell that genuinely begins
with a quote followed by ordinary text (``'t Hooft``) is left alone. A text that itself
began with ``'=`` comes back as ``=`` (the one ambiguous case, accepted for round-trips of
everything qusi_lab writes).

Example
-------
>>> neutralize_formula('=HYPERLINK("http://x")')
'\\'=HYPERLINK("http://x")'
>>> neutralize_formula("TIC 25155310")
'TIC 25155310'
>>> restore_formula(neutralize_formula("-ve flux"))
'-ve flux'
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_PREFIXES", "neutralize_formula", "restore_formula", "neutralize_cell", "restore_cell"]

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(text: str) -> str:
    """``text`` with a leading ``'`` when it begins with a formula character, else unchanged.

    Example
    -------
    >>> neutralize_formula("@SUM(A1)"), neutralize_formula("plain")
    ("'@SUM(A1)", 'plain')
    """
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def restore_formula(text: str) -> str:
    """Undo :func:`neutralize_formula`: drop a leading ``'`` that guards a formula character.

    Example
    -------
    >>> restore_formula("'=1+1"), restore_formula("'t Hooft")
    ('=1+1', "'t Hooft")
    """
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def neutralize_cell(value: Any) -> Any:
    """:func:`neutralize_formula` for strings; any other value (numbers, NaN, None) unchanged."""
    return neutralize_formula(value) if isinstance(value, str) else value


def restore_cell(value: Any) -> Any:
    """:func:`restore_formula` for strings; any other value unchanged."""
    return restore_formula(value) if isinstance(value, str) else value
