"""Fast chemical-formula parsing into atomic-fraction vectors (no pymatgen).

The predict path parses up to millions of formulas, many of them repeated, so this module
uses a small regex tokenizer and parses each distinct string once per call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from regenome.features.elements import ELEMENT_INDEX, ELEMENTS

__all__ = ["MAX_FORMULA_LENGTH", "parse_formula", "parse_formulas"]

#: Longest accepted formula, in characters.
MAX_FORMULA_LENGTH = 200

_TOKEN = re.compile(
    r"(?P<el>[A-Z][a-z]?)"
    r"|(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<open>[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<space>\s+)"
    r"|(?P<bad>.)"
)
_HYDRATE_SEP = re.compile(r"[·•*]")
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


class _FormulaError(ValueError):
    pass


def _parse_segment(text: str) -> dict[str, float]:
    """Element amounts of a formula without hydrate separators."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "space"]
    stack: list[dict[str, float]] = [{}]
    opened: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        kind, value = tokens[i]
        following = tokens[i + 1] if i + 1 < n else (None, "")
        amount = float(following[1]) if following[0] == "num" else 1.0
        step = 2 if following[0] == "num" else 1
        if kind == "el":
            if value not in ELEMENT_INDEX:
                raise _FormulaError(f"unknown element {value!r}")
            top = stack[-1]
            top[value] = top.get(value, 0.0) + amount
            i += step
        elif kind == "open":
            stack.append({})
            opened.append(value)
            i += 1
        elif kind == "close":
            if not opened or _CLOSING[opened[-1]] != value:
                raise _FormulaError(f"unbalanced {value!r}")
            opened.pop()
            group = stack.pop()
            if not group:
                raise _FormulaError("empty brackets")
            top = stack[-1]
            for el, amt in group.items():
                top[el] = top.get(el, 0.0) + amt * amount
            i += step
        elif kind == "num":
            raise _FormulaError(f"unexpected number {value!r}")
        else:
            raise _FormulaError(f"unexpected character {value!r}")
    if opened:
        raise _FormulaError(f"unclosed {opened[-1]!r}")
    return stack[0]


def parse_formula(formula: str) -> dict[str, float]:
    """Atomic fractions of one formula, e.g. ``{"Fe": 0.4, "O": 0.6}`` for ``Fe2O3``.

    Accepts nested ``()``, ``[]`` and ``{}`` groups with integer or decimal multipliers,
    whitespace, and hydrates written with ``·``, ``•`` or ``*`` (``CuSO4·5H2O``).

    Raises
    ------
    ValueError
        With a short reason (``unknown element 'A'``, ``unbalanced ')'``...).
    """
    if not isinstance(formula, str):
        raise _FormulaError(f"not a string ({type(formula).__name__})")
    if len(formula) > MAX_FORMULA_LENGTH:
        raise _FormulaError(f"longer than {MAX_FORMULA_LENGTH} characters")
    if not formula.strip():
        raise _FormulaError("empty formula")
    parts = _HYDRATE_SEP.split(formula)
    amounts = _parse_segment(parts[0]) if parts[0].strip() else {}
    for part in parts[1:]:
        m = _LEADING_NUMBER.match(part)
        mult = float(m.group(1)) if m else 1.0
        sub = _parse_segment(part[m.end():] if m else part)
        if not sub:
            raise _FormulaError("empty hydrate part")
        for el, amt in sub.items():
            amounts[el] = amounts.get(el, 0.0) + amt * mult
    if not amounts:
        raise _FormulaError("no elements")
    total = math.fsum(amounts.values())
    if not total > 0 or not math.isfinite(total):
        raise _FormulaError("total amount is not positive")
    return {el: amt / total for el, amt in amounts.items() if amt > 0}


def parse_formulas(formulas: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Parse many formulas into an atomic-fraction matrix.

    Each distinct string is parsed once per call, so long inputs with repeats are cheap.

    Parameters
    ----------
    formulas : sequence of str
        Chemical formulas such as ``"(Nd0.7Ce0.3)2Fe14B"``.

    Returns
    -------
    fractions : numpy.ndarray of float64, shape (n, len(ELEMENTS))
        Atomic fractions in the column order of :data:`regenome.features.elements.ELEMENTS`;
        each parsed row sums to 1, rows that failed are all zero. (8 bytes x 103 columns per
        row: chunk inputs of many millions of rows.)
    errors : list of str
        ``""`` for rows that parsed, otherwise the reason (``"unknown element 'A'"``).
    """
    index: dict[object, int] = {}
    originals: list[object] = []
    codes_list: list[int] = []
    for f in formulas:
        key = f if isinstance(f, str) else (None, repr(f))  # non-strings never match a string
        code = index.get(key)
        if code is None:
            code = index[key] = len(originals)
            originals.append(f)
        codes_list.append(code)
    codes = np.asarray(codes_list, dtype=np.intp)
    unique = np.zeros((len(originals), len(ELEMENTS)), dtype=np.float64)
    unique_err: list[str] = [""] * len(originals)
    for code, f in enumerate(originals):
        try:
            parsed = parse_formula(f)  # type: ignore[arg-type]
        except _FormulaError as exc:
            unique_err[code] = str(exc)
            continue
        for el, x in parsed.items():
            unique[code, ELEMENT_INDEX[el]] = x
    fractions = unique[codes]
    errors = [unique_err[c] for c in codes_list]
    return fractions, errors
