"""Durations and numbers written exactly as Sloth (Go) writes them.

Sloth's series names (``slo:sli_error:ratio_rate1w``), its ``sloth_window`` labels and the
numbers inside its expressions come from Prometheus's ``model.Duration.String`` and Go's
``%g``; dashboards and recorded rules match on that text, so it must be the same byte for
byte, not merely the same value (a 7-day window is ``1w``, never ``7d``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_UNITS = ("y", "w", "d", "h", "m", "s", "ms")
_HOUR_NS = 3600 * 10**9


def parse_duration(text: str) -> int:
    """Milliseconds in a Prometheus duration (``5m``, ``1h30m``, ``7d``); ``ValueError``
    for anything Prometheus would not read."""
    if text == "0":
        return 0
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a Prometheus duration like 5m, 1h, 7d or 1h30m")
    return sum(int(n) * _MS[unit] for n, unit in zip(match.groups(), _UNITS, strict=True) if n)


def format_duration(milliseconds: int) -> str:
    """A duration as Prometheus prints it: years and weeks only when they divide it
    exactly (``1w``, ``4w``, but ``30d`` and ``3d``)."""
    if milliseconds == 0:
        return "0s"
    rest, text = milliseconds, ""
    for unit in _UNITS:
        size = _MS[unit]
        if unit in ("y", "w") and rest % size:
            continue
        if count := rest // size:
            text += f"{count}{unit}"
            rest -= count * size
    return text


def duration_hours(milliseconds: int) -> float:
    """Go's ``time.Duration.Hours()``, computed the way Go computes it (whole hours plus
    the remainder in nanoseconds), so burn factors round exactly as Sloth's do."""
    nanoseconds = milliseconds * 10**6
    return float(nanoseconds // _HOUR_NS) + float(nanoseconds % _HOUR_NS) / (60 * 60 * 1e9)


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest digits that read back as ``value`` and where the decimal point goes."""
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return text, len(text) + exponent


def go_g(value: float) -> str:
    """Go's ``%g`` / ``%v`` for a float64: shortest digits, exponent form below 1e-4 and
    from 1e+06 on (``0.0009999999999999432``, ``14.4``, ``1e+06``)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} has no place in a rule expression")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _fixed(digits, point)


def go_f(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent
    (``99.9``, ``95``)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if value == 0:
        return "0"
    digits, point = _shortest_digits(value)
    return ("-" if value < 0 else "") + _fixed(digits, point)


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return f"{digits[:point]}.{digits[point:]}"
