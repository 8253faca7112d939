"""Fast chemical-formula parsing into atomic-fraction vectors (no pymatgen).

The predict path parses up to millions of formulas, many of them repeated, so this module
parses each distinct string once per call: plain formulas (ASCII letters, digits, dots and
brackets) all at once with numpy array operations, anything else (hydrates, whitespace, errors)
with a small regex tokenizer, which also gives the error messages.
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
    formulas = formulas if isinstance(formulas, list) else list(formulas)
    index: dict[object, int] = {}
    originals: list[object]
    if all(type(f) is str for f in formulas):  # the usual case: one pass of C-level dict lookups
        codes_list = [index.setdefault(f, len(index)) for f in formulas]
        originals = list(index)
    else:
        originals, codes_list = [], []
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
    done = np.zeros(len(originals), dtype=bool)
    strings = np.flatnonzero([isinstance(f, str) for f in originals])
    for start in range(0, strings.size, _FAST_BLOCK):
        block = strings[start:start + _FAST_BLOCK]
        fractions, ok = _parse_plain([originals[i] for i in block])
        unique[block[ok]] = fractions[ok]
        done[block[ok]] = True
    for code, f in enumerate(originals):
        if done[code]:
            continue
        try:
            parsed = parse_formula(f)  # type: ignore[arg-type]
        except _FormulaError as exc:
            unique_err[code] = str(exc)
            continue
        for el, x in parsed.items():
            unique[code, ELEMENT_INDEX[el]] = x
    fractions = unique if len(originals) == len(codes) else unique[codes]  # all distinct: codes = 0..n-1
    errors = unique_err if len(originals) == len(codes) else [unique_err[c] for c in codes_list]
    return fractions, errors


# ----------------------------------------------------------------------------- vectorized fast path
_FAST_BLOCK = 4_096  # strings per batch of the array parser (small batches stay in the CPU cache)
_MAX_DIGITS = 15  # longer numbers go to the regex parser (the array parser's integers stay exact)
_OTHER, _UPPER, _LOWER, _DIGIT, _DOT, _OPEN, _CLOSE = range(7)
_CLASS = np.full(256, _OTHER, dtype=np.int8)
_CLASS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = _UPPER
_CLASS[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)] = _LOWER
_CLASS[np.frombuffer(b"0123456789", np.uint8)] = _DIGIT
_CLASS[ord(".")] = _DOT
_CLASS[np.frombuffer(b"([{", np.uint8)] = _OPEN
_CLASS[np.frombuffer(b")]}", np.uint8)] = _CLOSE
_BRACKET_KIND = np.zeros(256, dtype=np.int8)
_BRACKET_KIND[np.frombuffer(b"()", np.uint8)] = 1
_BRACKET_KIND[np.frombuffer(b"[]", np.uint8)] = 2
_BRACKET_KIND[np.frombuffer(b"{}", np.uint8)] = 3
_SYMBOL = np.full(256 * 256, -1, dtype=np.intp)  # first byte * 256 + second byte (0: one letter) -> column
for _el, _i in ELEMENT_INDEX.items():
    _SYMBOL[ord(_el[0]) * 256 + (ord(_el[1]) if len(_el) > 1 else 0)] = _i


def _parse_plain(formulas: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Atomic fractions of formulas made of element symbols, numbers and brackets, all at once.

    A row is accepted (``ok``) only when it is well formed: at most ``MAX_FORMULA_LENGTH``
    characters of ``A-Z a-z 0-9 . ( ) [ ] { }``, known element symbols, numbers right after an
    element or a closing bracket, balanced non-empty brackets and a positive total. Other rows
    (whitespace, hydrates, anything :func:`parse_formula` rejects) are left to it. Accepted rows
    agree with :func:`parse_formula` to rounding (the numbers are parsed exactly).

    Returns ``fractions`` (n, len(ELEMENTS)), zero in rows that are not ok, and ``ok`` (n,) bool.
    """
    n = len(formulas)
    lengths = np.fromiter(map(len, formulas), dtype=np.intp, count=n)
    ok = (lengths > 0) & (lengths <= MAX_FORMULA_LENGTH)
    buf = np.frombuffer("".join(formulas).encode("ascii", "replace"), dtype=np.uint8)  # 1 byte per char
    if buf.size == 0:
        return np.zeros((n, len(ELEMENTS))), np.zeros(n, dtype=bool)
    row = np.repeat(np.arange(n), lengths)
    first = np.zeros(buf.size, dtype=bool)  # first character of its formula
    first[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
    last = np.roll(first, -1)
    last[-1] = True
    cls = _CLASS[buf]
    prev = np.where(first, _OTHER, np.roll(cls, 1))
    nxt = np.where(last, _OTHER, np.roll(cls, -1))

    def reject(mask: np.ndarray) -> None:
        ok[row[mask]] = False

    reject(cls == _OTHER)
    reject((cls == _LOWER) & (prev != _UPPER))  # "Fee", "fe": a lone lower-case letter
    # element symbols
    el_pos = np.flatnonzero(cls == _UPPER)
    two = nxt[el_pos] == _LOWER
    second = np.where(two, buf[np.minimum(el_pos + 1, buf.size - 1)], 0)
    el_col = _SYMBOL[buf[el_pos].astype(np.intp) * 256 + second]
    reject(el_pos[el_col < 0])
    el_end = el_pos + two
    # numbers: maximal runs of digits and dots, each one \d+(\.\d*)? or \.\d+
    numeric = (cls == _DIGIT) | (cls == _DOT)
    run_start = numeric & ~((prev == _DIGIT) | (prev == _DOT))
    run_id = np.cumsum(run_start, dtype=np.int32) - 1
    starts = np.flatnonzero(run_start)
    num_pos = np.flatnonzero(numeric)
    rid = run_id[num_pos]
    is_digit = cls[num_pos] == _DIGIT
    n_runs = starts.size
    n_dots = np.bincount(rid, weights=~is_digit, minlength=n_runs)
    n_digits = np.bincount(rid, weights=is_digit, minlength=n_runs)
    reject(starts[(n_dots > 1) | (n_digits < 1) | (n_digits > _MAX_DIGITS)])
    # a number must follow an element or a closing bracket
    before = np.where(first[starts], _OTHER, cls[np.maximum(starts - 1, 0)])
    reject(starts[~np.isin(before, (_UPPER, _LOWER, _CLOSE))])
    # exact value: integer mantissa / 10**(digits after the dot), one correctly rounded division
    run_first = np.flatnonzero(run_start[num_pos])  # index in num_pos of each run's first character
    digit_cum = np.cumsum(is_digit, dtype=np.int32)  # digits up to and including this character
    dot_cum = np.cumsum(~is_digit, dtype=np.int32)
    digit_in_run = digit_cum - (digit_cum[run_first] - is_digit[run_first])[rid]  # 1-based among the run's digits
    dot_seen = (dot_cum - (dot_cum[run_first] - ~is_digit[run_first])[rid]) > 0
    power = np.clip(n_digits[rid] - digit_in_run, 0, _MAX_DIGITS)
    digits = np.where(is_digit, buf[num_pos].astype(np.float64) - 48.0, 0.0)
    mantissa = np.bincount(rid, weights=digits * 10.0 ** power, minlength=n_runs)
    n_decimals = np.bincount(rid, weights=is_digit & dot_seen, minlength=n_runs)
    value = np.append(mantissa / 10.0 ** n_decimals, 1.0)  # run_id -1 (no number yet) reads the 1.0

    def amount_after(end: np.ndarray) -> np.ndarray:
        """The number right after position ``end`` (same formula), else 1."""
        has = (~last[end]) & numeric[np.minimum(end + 1, buf.size - 1)]
        return np.where(has, value[run_id[np.minimum(end + 1, buf.size - 1)]], 1.0)

    amount = amount_after(el_end)
    # brackets: balanced per formula, never empty, matching kinds
    step = (cls == _OPEN).view(np.int8) - (cls == _CLOSE).view(np.int8)
    depth = np.cumsum(step, dtype=np.int32)
    depth -= np.repeat(depth[first] - step[first], lengths[lengths > 0])  # depth after each char, per formula
    reject(depth < 0)
    reject(last & (depth != 0))
    reject((cls == _OPEN) & (nxt == _CLOSE))
    br_pos = np.flatnonzero((cls == _OPEN) | (cls == _CLOSE))
    if br_pos.size and ok.any():
        is_open = cls[br_pos] == _OPEN
        level = np.where(is_open, depth[br_pos], depth[br_pos] + 1)
        good = ok[row[br_pos]]
        br_pos, is_open, level = br_pos[good], is_open[good], level[good]
        # per formula and nesting level, brackets alternate open, close, open... in position order
        order = np.lexsort((br_pos, level, row[br_pos]))
        opens, closes = br_pos[order][0::2], br_pos[order][1::2]
        if opens.size != closes.size or not (is_open[order][0::2].all() and not is_open[order][1::2].any()):
            reject(br_pos)  # not expected after the depth checks; the regex parser then decides
            opens = closes = np.zeros(0, dtype=np.intp)
        reject(opens[_BRACKET_KIND[buf[opens]] != _BRACKET_KIND[buf[closes]]])
        mult = amount_after(closes)
        group_level = depth[opens]
        # multiply each element by its enclosing groups' multipliers, innermost first
        for lev in range(int(group_level.max(initial=0)), 0, -1):
            at = group_level == lev
            latest = np.full(buf.size, -1, dtype=np.intp)
            latest[opens[at]] = np.arange(at.sum())
            latest = np.maximum.accumulate(latest)[el_pos]
            inside = (depth[el_pos] >= lev) & (latest >= 0)
            amount = np.where(inside, amount * mult[at][np.maximum(latest, 0)], amount)
    el_row = row[el_pos]
    total = np.bincount(el_row, weights=amount, minlength=n)
    ok &= (total > 0) & np.isfinite(total)
    keep = ok[el_row]
    n_el = len(ELEMENTS)
    fractions = np.bincount(el_row[keep] * n_el + el_col[keep], weights=amount[keep] / total[el_row[keep]],
                            minlength=n * n_el).reshape(n, n_el)
    return fractions, ok
