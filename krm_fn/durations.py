"""Go ``time.Duration`` parsing and formatting (what ESO's webhook accepts).

``refreshInterval`` is a ``metav1.Duration``: the API server parses it with
``time.ParseDuration`` and ESO writes it back with ``Duration.String()``.
Emitting the canonical form (``1h`` -> ``1h0m0s``) avoids perpetual diffs.
"""
from __future__ import annotations

import functools
import re

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zA-Z\u00b5\u03bc]+)")
_MAX = (1 << 63) - 1


class DurationError(ValueError):
    pass


@functools.lru_cache(maxsize=256)
def parse(text: str) -> int:
    """Nanoseconds, exactly as Go's ``time.ParseDuration`` computes them (cached: a run sees a few intervals)."""
    original = text
    if not text:
        raise DurationError('invalid duration ""')
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationError(f"invalid duration {original!r}")
    total = 0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match or match.group(1) in ("", "."):
            if match and match.group(1) == "" and match.group(2):
                raise DurationError(f"invalid duration {original!r}")
            raise DurationError(f"missing unit in duration {original!r}" if match is None and
                                re.match(r"[0-9.]+$", text[pos:]) else f"invalid duration {original!r}")
        number, unit = match.groups()
        if unit not in _UNITS:
            raise DurationError(f"unknown unit {unit!r} in duration {original!r}")
        whole, _, frac = number.partition(".")
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > _MAX + (1 if sign < 0 else 0):
            raise DurationError(f"invalid duration {original!r} (overflow)")
        pos = match.end()
    return sign * total


def _fraction(value: int, precision: int) -> tuple[str, int]:
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format(ns: int) -> str:  # noqa: A001 - mirrors Go's Duration.String
    """Go's ``Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    negative = ns < 0
    u = -ns if negative else ns
    if u < 1_000_000_000:
        if u < 1_000:
            out = f"{u}ns"
        elif u < 1_000_000:
            frac, whole = _fraction(u, 3)
            out = f"{whole}{frac}\u00b5s"
        else:
            frac, whole = _fraction(u, 6)
            out = f"{whole}{frac}ms"
    else:
        frac, secs = _fraction(u, 9)
        out = f"{secs % 60}{frac}s"
        minutes = secs // 60
        if minutes > 0:
            out = f"{minutes % 60}m" + out
            hours = minutes // 60
            if hours > 0:
                out = f"{hours}h" + out
    return "-" + out if negative else out


@functools.lru_cache(maxsize=256)
def canonical(text: str) -> str:
    """``format(parse(text))``; cached: every ExternalSecret of a run asks for one of a few intervals."""
    return format(parse(text))
