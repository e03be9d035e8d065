"""Turn numbers into the words and figures a page shows.

Every number perfgen publishes goes through one of these functions, so the
rules in DOMAIN.md ("Formatting") live in one tested place.

In: a number (``int``, ``float``, ``Decimal`` or a numpy scalar) or ``None``.
Out: a string (``change`` returns a :class:`Change`).

- Missing values: the display formatters (``money``, ``money_exact``,
  ``percent``, ``percent_exact``, ``count``, ``count_short``) return
  ``"Not provided"`` for ``None`` and for a float NaN (pandas' missing value),
  never ``0`` or an empty string.
- Anything that is not a real number (a string, a bool) raises ``TypeError``;
  infinity raises ``ValueError``: both are bugs upstream, not data states.
- Rounding is half away from zero ("half up") on the decimal value as written
  (``2.675`` rounds to ``2.68``), not on its binary float approximation.
- Negative numbers use a real minus sign (U+2212), never a hyphen. A value that
  rounds to zero is shown without a sign.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import lru_cache
from typing import Literal

NOT_PROVIDED = "Not provided"
MINUS = "\u2212"
EN_DASH = "\u2013"

# Units for abbreviated figures, largest first.
_SCALES = (
    (Decimal(10) ** 9, "bn"),
    (Decimal(10) ** 6, "m"),
    (Decimal(10) ** 3, "k"),
    (Decimal(1), ""),
)
# Money below this many pounds is shown in pounds and pence.
_PENCE_BELOW = Decimal(100)
# Differences smaller than this (in percent or percentage points) are float
# noise from summing, not a change.
_NOISE = Decimal("1e-9")

CHANGE_UNITS = ("percent", "money", "count")
BETTER = ("higher", "lower")


def _to_decimal(value: object) -> Decimal | None:
    """The value as a Decimal, or None when it is missing (None or NaN)."""
    if type(value) is float:  # the usual case, without the checks against abstract number types
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError(f"cannot format an infinite number: {value!r}")
        # repr gives the shortest decimal that round-trips: 2.675, not 2.67499999...
        return Decimal(repr(value))
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"expected a number or None, got a bool: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    elif isinstance(value, numbers.Real):
        as_float = float(value)
        if math.isnan(as_float):
            return None
        # repr gives the shortest decimal that round-trips: 2.675, not 2.67499999...
        number = Decimal(repr(as_float))
    else:
        raise TypeError(f"expected a number or None, got {type(value).__name__}: {value!r}")
    if number.is_nan():
        return None
    if number.is_infinite():
        raise ValueError(f"cannot format an infinite number: {value!r}")
    return number


_DEFAULT_PRECISION = Context(prec=28)

#: A page shows the same figure several times (a table cell, its exact value, a summary, the
#: tiles): each formatter remembers its latest answers. ``typed`` keeps 1, 1.0 and True apart.
_remembered = lru_cache(maxsize=1 << 16, typed=True)


#: One unit of the last decimal place kept, by number of places (0.1 for 1).
_STEPS = {places: Decimal(1).scaleb(-places) for places in range(7)}


def _step(places: int) -> Decimal:
    return _STEPS[places] if places in _STEPS else Decimal(1).scaleb(-places)


def _round(number: Decimal, places: int) -> Decimal:
    """Round half away from zero to ``places`` decimal places."""
    if number.adjusted() + places + 3 <= 28:
        # The usual case, without entering a local context (a site formats hundreds of
        # thousands of numbers; this is several times faster and gives the same Decimal).
        return number.quantize(_step(places), rounding=ROUND_HALF_UP, context=_DEFAULT_PRECISION)
    with localcontext() as context:
        context.prec = max(28, number.adjusted() + places + 3)
        return number.quantize(_step(places), rounding=ROUND_HALF_UP)


def _significant(number: Decimal, figures: int) -> Decimal:
    """Round half away from zero to ``figures`` significant figures (9.995 -> 10.0)."""
    if number == 0:
        return number
    with localcontext() as context:
        context.prec = figures
        context.rounding = ROUND_HALF_UP
        rounded = context.plus(number)
        # Keep trailing zeros: 1 becomes 1.00, not 1.
        return rounded.quantize(Decimal(1).scaleb(rounded.adjusted() - figures + 1))


def _grouped(number: Decimal) -> str:
    """Digits as they are, with thousands separated by commas."""
    return f"{number:,f}"


def _sign(negative: bool, rounded: Decimal) -> str:
    return MINUS if negative and rounded != 0 else ""


def _abbreviated(magnitude: Decimal) -> str:
    """A non-negative number to three significant figures with k, m or bn.

    Below 1,000 the number is rounded to a whole number. Rounding that reaches
    1,000 of a unit moves up to the next unit (999,950 is 1.00m, not 1,000k).
    Beyond 999bn the figure stays in bn, grouped (1,500bn).
    """
    index = next(i for i, (size, _) in enumerate(_SCALES) if magnitude >= size or size == 1)
    while True:
        size, suffix = _SCALES[index]
        scaled = magnitude / size
        if suffix and scaled < 1000:
            rounded = _significant(scaled, 3)
        else:
            rounded = _round(scaled, 0)
        if rounded >= 1000 and index > 0:
            index -= 1
            continue
        return _grouped(rounded) + suffix


@_remembered
def money(value: object) -> str:
    """Money for reading: ``£2.57`` below £100, else ``£123``, ``£48.2k``, ``£566m``, ``£4.06bn``.

    Amounts that round to £100.00 or more have three significant figures and
    a k, m or bn suffix; pair them with :func:`money_exact` for the exact value.
    """
    number = _to_decimal(value)
    return NOT_PROVIDED if number is None else _money_of(number)[0]


@_remembered
def money_exact(value: object) -> str:
    """Money to the penny, grouped: ``£1,234,567.89``; whole pounds keep ``.00``."""
    number = _to_decimal(value)
    return NOT_PROVIDED if number is None else _money_of(number)[1]


def _money_of(number: Decimal) -> tuple[str, str]:
    """:func:`money` and :func:`money_exact` of a number (the pence rounded once for both)."""
    magnitude = abs(number)
    pence = _round(magnitude, 2)
    exact = f"{_sign(number < 0, pence)}£{_grouped(pence)}"
    return (exact if pence < _PENCE_BELOW else f"{_sign(number < 0, pence)}£{_abbreviated(magnitude)}"), exact


def _percent(fraction: object, places: int, trim: bool) -> str:
    number = _to_decimal(fraction)
    if number is None:
        return NOT_PROVIDED
    return _percent_of(number, places, trim)


def _percent_of(number: Decimal, places: int, trim: bool) -> str:
    if number == 0:
        return "0%"
    if number == 1:
        return "100%"
    rounded = _round(abs(number) * 100, places)
    if rounded == 0:
        smallest = _grouped(_step(places))
        # Never show a value that is not zero as 0%.
        return f"<{smallest}%" if number > 0 else f">{MINUS}{smallest}%"
    if rounded == 100 and number > 0:
        # Never show a value that is not exactly 100% as 100%.
        return f">{_grouped(100 - _step(places))}%" if number < 1 else ">100%"
    text = _grouped(rounded)
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{_sign(number < 0, rounded)}{text}%"


@_remembered
def percent(fraction: object) -> str:
    """A fraction (0.903) as a percentage to one decimal place: ``90.3%``.

    Exactly 0 and 1 are ``0%`` and ``100%``. Other values never show as those:
    a value below 1 that would round to 100.0 is ``>99.9%``, one above 0 that
    would round to 0.0 is ``<0.1%`` (and above 1, ``>100%``; below 0,
    ``>−0.1%``).
    """
    return _percent(fraction, places=1, trim=False)


@_remembered
def percent_exact(fraction: object) -> str:
    """A fraction as a percentage to four decimal places, trailing zeros dropped.

    For ``<abbr title>``: ``0.9031234`` is ``90.3123%``, ``0.9`` is ``90%``.
    The same boundary rules as :func:`percent` apply (``>99.9999%``).
    """
    return _percent(fraction, places=4, trim=True)


@_remembered
def count(value: object) -> str:
    """A count with grouped thousands: ``977,870,260``; non-integers are rounded half up."""
    if (type(value) is float and value.is_integer() and abs(value) < 1e15) or type(value) is int:
        whole = int(value)  # already whole (most counts): the same text without Decimal
        return f"{MINUS if whole < 0 else ''}{abs(whole):,}"
    number = _to_decimal(value)
    if number is None:
        return NOT_PROVIDED
    rounded = _round(abs(number), 0)
    return f"{_sign(number < 0, rounded)}{_grouped(rounded)}"


@_remembered
def score(value: object) -> str:
    """A count that may have a fraction, to two decimal places at most: a mean score's numerator
    (the sum of (rating - 1) / 4, in quarters), ``79.25``; ``1,204.5``; whole, as :func:`count`.
    Rounded to a whole number it would not divide into the score shown beside it."""
    if (type(value) is float and value.is_integer()) or type(value) is int:
        return count(value)  # most numerators: counts
    number = _to_decimal(value)
    if number is None:
        return NOT_PROVIDED
    rounded = _round(abs(number), 2)
    text = _grouped(rounded).rstrip("0").rstrip(".")
    return f"{_sign(number < 0, rounded)}{text}"


@_remembered
def count_short(value: object) -> str:
    """A count to three significant figures: ``977``, ``48.2k``, ``12.3m``, ``4.06bn``.

    Show the exact :func:`count` beside it (a table cell or ``<abbr title>``).
    """
    number = _to_decimal(value)
    if number is None:
        return NOT_PROVIDED
    magnitude = abs(number)
    return f"{_sign(number < 0, _round(magnitude, 0))}{_abbreviated(magnitude)}"


@dataclass(frozen=True)
class Change:
    """A change between two periods, worded for a page.

    ``amount`` is the signed figure ("+4.1%", "−2.3 percentage points", or
    words when there is nothing to sign); ``verdict`` is "better", "worse" or
    "" when nothing changed; ``text`` joins them: "+4.1% – worse". Colour comes
    from ``css_class`` and is never the only cue, as the text says "better" or
    "worse" too. The caller names the earlier period with :meth:`against`.
    """

    text: str
    css_class: Literal["app-change--good", "app-change--bad", "app-change--neutral"]
    direction: Literal["up", "down", "same"]
    amount: str
    verdict: Literal["better", "worse", ""]

    def against(self, period: str) -> str:
        """The change compared with ``period``: "+4.1% on April 2015 to March 2016 – worse"."""
        text = f"{self.amount} on {period}"
        return f"{text} {EN_DASH} {self.verdict}" if self.verdict else text


def change(
    old: object,
    new: object,
    unit: Literal["percent", "money", "count"],
    better: Literal["higher", "lower"],
) -> Change | None:
    """How ``new`` compares with ``old``, or None when there is nothing to compare.

    - unit "percent" (values are fractions): the difference in percentage
      points, "+2.3 percentage points".
    - unit "money" or "count": the relative change, "+4.1%". It is None when
      ``old`` is 0 or negative, as no relative change exists (show "No
      previous figure" or similar).
    - None (or NaN) on either side gives None.
    - Equal values give "No change"; a difference that rounds to 0.0 gives
      "Up by less than 0.1%" (or "... percentage points") rather than "+0.0%".

    ``better`` says which direction is good for this KPI: cost per
    transaction is better "lower", take-up is better "higher".
    """
    if unit not in CHANGE_UNITS:
        raise ValueError(f"unknown unit {unit!r}: expected one of {', '.join(CHANGE_UNITS)}")
    if better not in BETTER:
        raise ValueError(f"unknown direction {better!r}: expected 'higher' or 'lower'")
    before = _to_decimal(old)
    after = _to_decimal(new)
    if before is None or after is None:
        return None
    if unit == "percent":
        difference = (after - before) * 100
        suffix = " percentage points"
    else:
        if before <= 0:
            return None
        difference = (after - before) / before * 100
        suffix = "%"

    if abs(difference) < _NOISE:
        return Change(
            text="No change",
            css_class="app-change--neutral",
            direction="same",
            amount="No change",
            verdict="",
        )
    direction: Literal["up", "down"] = "up" if difference > 0 else "down"
    good = (direction == "up") == (better == "higher")
    rounded = _round(abs(difference), 1)
    if rounded == 0:
        amount = f"{direction.capitalize()} by less than 0.1{suffix}"
    else:
        amount = f"{'+' if direction == 'up' else MINUS}{_grouped(rounded)}{suffix}"
    verdict: Literal["better", "worse"] = "better" if good else "worse"
    return Change(
        text=f"{amount} {EN_DASH} {verdict}",
        css_class="app-change--good" if good else "app-change--bad",
        direction=direction,
        amount=amount,
        verdict=verdict,
    )


def for_unit(unit: str, value: object) -> str:
    """Format a value by its KPI unit: ``money``, ``percent`` (a fraction) or ``count``."""
    if unit == "money":
        return money(value)
    if unit == "percent":
        return percent(value)
    return count(value)


@_remembered
def with_exact(unit: str, value: object) -> tuple[str, str | None]:
    """``for_unit`` and the unrounded figure for a title: ``money_exact`` or ``percent_exact``
    (None for a count, or a missing value), the value read as a decimal once for both (a site
    formats hundreds of thousands of figures so, nearly all different)."""
    if unit not in ("money", "percent"):
        return for_unit(unit, value), None
    number = _to_decimal(value)
    if number is None:
        return NOT_PROVIDED, None
    if unit == "percent":
        return _percent_of(number, 1, False), _percent_of(number, 4, True)
    return _money_of(number)


def difference(unit: str, amount: object) -> str:
    """The size of a gap between two values of one KPI, without a sign, in the KPI's unit.

    - "percent" (fractions): percentage points, ``0.021`` is "2.1 percentage points";
    - "money": pounds, ``0.4`` is "£0.40";
    - "count": ``1200`` is "1,200".

    A gap that is not zero but rounds to zero is "less than 0.1 percentage points" ("less than
    £0.01", "less than 1"), never "0.0". Pair it with words that say which side it is on
    ("below its target of 85%").
    """
    number = _to_decimal(amount)
    if number is None:
        return NOT_PROVIDED
    magnitude = abs(number)
    if unit == "percent":
        rounded = _round(magnitude * 100, 1)
        if rounded == 0 and magnitude * 100 >= _NOISE:
            return "less than 0.1 percentage points"
        return f"{_grouped(rounded)} percentage points"
    if unit == "money":
        if _round(magnitude, 2) == 0 and magnitude >= _NOISE:
            return "less than £0.01"
        return money(magnitude)
    if _round(magnitude, 0) == 0 and magnitude >= _NOISE:
        return "less than 1"
    return count(magnitude)
