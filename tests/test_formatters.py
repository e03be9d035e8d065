"""The exact strings perfgen shows for numbers (DOMAIN.md, "Formatting")."""

from decimal import Decimal

import pytest

from perfgen.formatters import (
    Change,
    change,
    count,
    count_short,
    difference,
    money,
    money_exact,
    percent,
    percent_exact,
    score,
)

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "£0.00"),
        (0.004, "£0.00"),
        (0.005, "£0.01"),
        (2.57, "£2.57"),
        (2.5, "£2.50"),
        (2.675, "£2.68"),  # half up on the decimal as written, not the float
        (99.99, "£99.99"),
        (99.994, "£99.99"),
        (99.995, "£100"),  # rounds to £100.00, so it leaves the pence range
        (100, "£100"),
        (123.4, "£123"),
        (123.5, "£124"),
        (999.49, "£999"),
        (999.5, "£1.00k"),  # crosses into thousands
        (1000, "£1.00k"),
        (1234, "£1.23k"),
        (1235, "£1.24k"),
        (9995, "£10.0k"),  # rounding adds a digit: still three significant figures
        (10_000, "£10.0k"),  # trailing zeros kept
        (100_000, "£100k"),
        (48_200, "£48.2k"),
        (48_249.99, "£48.2k"),
        (48_250, "£48.3k"),
        (123_456, "£123k"),
        (999_499, "£999k"),
        (999_500, "£1.00m"),
        (999_950, "£1.00m"),
        (1_000_000, "£1.00m"),
        (566_000_000, "£566m"),
        (566_499_999, "£566m"),
        (999_500_000, "£1.00bn"),
        (4_060_000_000, "£4.06bn"),
        (4_064_999_999, "£4.06bn"),
        (4_065_000_000, "£4.07bn"),
        (1_500_000_000_000, "£1,500bn"),
        (-2.5, f"{MINUS}£2.50"),
        (-0.004, "£0.00"),  # rounds to zero: no sign
        (-1_234_567, f"{MINUS}£1.23m"),
        (Decimal("48249.999"), "£48.2k"),
        (None, "Not provided"),
        (float("nan"), "Not provided"),
    ],
)
def test_money(value, expected):
    assert money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "£0.00"),
        (2.57, "£2.57"),
        (2.675, "£2.68"),
        (100, "£100.00"),
        (1_234_567.89, "£1,234,567.89"),
        (1_234_567.895, "£1,234,567.90"),
        (4_060_123_456, "£4,060,123,456.00"),
        (-1234.5, f"{MINUS}£1,234.50"),
        (-0.001, "£0.00"),
        (None, "Not provided"),
    ],
)
def test_money_exact(value, expected):
    assert money_exact(value) == expected


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0, "0%"),
        (0.0, "0%"),
        (1, "100%"),
        (1.0, "100%"),
        (0.903, "90.3%"),
        (0.9025, "90.3%"),
        (0.90249, "90.2%"),
        (0.5, "50.0%"),
        (0.1, "10.0%"),
        (0.001, "0.1%"),
        (0.0005, "0.1%"),  # 0.05% rounds half up to 0.1%
        (0.0004, "<0.1%"),  # not zero, so never 0%
        (0.000001, "<0.1%"),
        (0.999, "99.9%"),
        (0.99949, "99.9%"),
        (0.9995, ">99.9%"),  # 99.95 rounds to 100.0 but is not 100%
        (0.99999, ">99.9%"),
        (1.0004, ">100%"),
        (1.2, "120.0%"),
        (-0.05, f"{MINUS}5.0%"),
        (-0.0004, f">{MINUS}0.1%"),
        (Decimal("0.9031"), "90.3%"),
        (None, "Not provided"),
        (float("nan"), "Not provided"),
    ],
)
def test_percent(fraction, expected):
    assert percent(fraction) == expected


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0, "0%"),
        (1, "100%"),
        (0.9, "90%"),
        (0.903, "90.3%"),
        (0.9031234, "90.3123%"),
        (0.90312345, "90.3123%"),
        (0.90312355, "90.3124%"),
        (1 / 3, "33.3333%"),
        (0.9995, "99.95%"),
        (0.999999999, ">99.9999%"),
        (0.0000000001, "<0.0001%"),
        (None, "Not provided"),
    ],
)
def test_percent_exact(fraction, expected):
    assert percent_exact(fraction) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (7, "7"),
        (999, "999"),
        (1000, "1,000"),
        (977_870_260, "977,870,260"),
        (12.5, "13"),  # half up, not banker's rounding
        (13.5, "14"),
        (0.4, "0"),
        (-1234, f"{MINUS}1,234"),
        (-0.4, "0"),
        (None, "Not provided"),
        (float("nan"), "Not provided"),
    ],
)
def test_count(value, expected):
    assert count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (79.25, "79.25"),  # a mean score's numerator: a sum of quarters
        (1204.5, "1,204.5"),
        (0.75, "0.75"),
        (79.0, "79"),
        (1_234_567, "1,234,567"),
        (79.3333, "79.33"),
        (100.005, "100.01"),  # half up
        (-2.5, f"{MINUS}2.5"),
        (0.001, "0"),
        (None, "Not provided"),
    ],
)
def test_score(value, expected):
    """The sum a mean score is divided from, shown so that it divides into the score beside it
    (79.25 of 118 responses is 67.2%; rounded to 79 it would be 66.9%)."""
    assert score(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (977, "977"),
        (999.4, "999"),
        (999.5, "1.00k"),
        (1000, "1.00k"),
        (1234, "1.23k"),
        (99_950, "100k"),
        (48_200, "48.2k"),
        (48_250, "48.3k"),
        (999_950, "1.00m"),
        (12_345_678, "12.3m"),
        (977_870_260, "978m"),
        (999_499_999, "999m"),
        (999_500_000, "1.00bn"),
        (4_060_000_000, "4.06bn"),
        (-48_200, f"{MINUS}48.2k"),
        (None, "Not provided"),
    ],
)
def test_count_short(value, expected):
    assert count_short(value) == expected


@pytest.mark.parametrize(
    "formatter", [money, money_exact, percent, percent_exact, count, count_short]
)
@pytest.mark.parametrize("bad", ["12", True, [1]])
def test_formatters_reject_non_numbers(formatter, bad):
    with pytest.raises(TypeError):
        formatter(bad)


@pytest.mark.parametrize("formatter", [money, percent, count, count_short])
def test_formatters_reject_infinity(formatter):
    with pytest.raises(ValueError):
        formatter(float("inf"))


def test_formatters_accept_numpy_scalars():
    numpy = pytest.importorskip("numpy")
    assert money(numpy.float64(2.675)) == "£2.68"
    assert count(numpy.int64(977_870_260)) == "977,870,260"
    assert percent(numpy.float32(0.5)) == "50.0%"


# Change ---------------------------------------------------------------------------


def test_change_in_percentage_points_for_percent_kpis():
    result = change(0.5, 0.523, "percent", "higher")
    assert result == Change(
        text="+2.3 percentage points \u2013 better",
        css_class="app-change--good",
        direction="up",
        amount="+2.3 percentage points",
        verdict="better",
    )


def test_change_relative_for_money_with_lower_better():
    result = change(100, 104.1, "money", "lower")
    assert result is not None
    assert result.text == "+4.1% \u2013 worse"
    assert result.css_class == "app-change--bad"
    assert result.direction == "up"


def test_change_down_uses_a_real_minus_sign():
    result = change(0.75, 0.727, "percent", "higher")
    assert result is not None
    assert result.amount == f"{MINUS}2.3 percentage points"
    assert result.text == f"{MINUS}2.3 percentage points \u2013 worse"
    assert result.css_class == "app-change--bad"
    assert result.direction == "down"


def test_cost_going_down_is_better():
    result = change(4.00, 3.00, "money", "lower")
    assert result is not None
    assert result.text == f"{MINUS}25.0% \u2013 better"
    assert result.css_class == "app-change--good"


def test_count_change_is_relative_and_grouped():
    result = change(1000, 20_000, "count", "higher")
    assert result is not None
    assert result.amount == "+1,900.0%"


def test_change_rounding_half_up():
    assert change(1000, 1000.5, "count", "higher").amount == "+0.1%"  # 0.05% rounds up
    assert change(0.5, 0.5005, "percent", "higher").amount == "+0.1 percentage points"


def test_no_change():
    result = change(0.9, 0.9, "percent", "higher")
    assert result == Change(
        text="No change",
        css_class="app-change--neutral",
        direction="same",
        amount="No change",
        verdict="",
    )
    assert result.against("April 2015 to March 2016") == "No change on April 2015 to March 2016"


def test_float_noise_is_no_change():
    assert change(0.1 + 0.2, 0.3, "percent", "higher").direction == "same"


def test_tiny_change_is_not_shown_as_zero():
    result = change(100_000, 100_001, "count", "higher")
    assert result is not None
    assert result.text == "Up by less than 0.1% \u2013 better"
    assert result.direction == "up"
    down = change(0.5, 0.4999, "percent", "lower")
    assert down is not None
    assert down.text == "Down by less than 0.1 percentage points \u2013 better"


def test_change_against_a_period():
    result = change(100, 104.1, "money", "lower")
    assert result is not None
    assert (
        result.against("April 2015 to March 2016")
        == "+4.1% on April 2015 to March 2016 \u2013 worse"
    )


@pytest.mark.parametrize(
    ("old", "new", "unit"),
    [
        (None, 5, "money"),
        (5, None, "money"),
        (float("nan"), 5, "count"),
        (0, 5, "money"),  # no relative change from zero
        (0, 5, "count"),
        (-5, 5, "count"),
        (None, 0.5, "percent"),
    ],
)
def test_change_none_when_nothing_to_compare(old, new, unit):
    assert change(old, new, unit, "higher") is None


def test_percent_change_from_zero_is_defined():
    assert change(0, 0.25, "percent", "higher").amount == "+25.0 percentage points"


def test_change_rejects_unknown_unit_and_direction():
    with pytest.raises(ValueError, match="unknown unit 'GBP'"):
        change(1, 2, "GBP", "higher")
    with pytest.raises(ValueError, match="unknown direction 'up'"):
        change(1, 2, "money", "up")


def test_change_is_frozen():
    result = change(1, 2, "money", "lower")
    with pytest.raises(AttributeError):
        result.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("unit", "amount", "expected"),
    [
        ("percent", 0.021, "2.1 percentage points"),
        ("percent", -0.021, "2.1 percentage points"),  # no sign: the words say which side
        ("percent", 0.1, "10.0 percentage points"),
        ("percent", 0.0004, "less than 0.1 percentage points"),
        ("percent", 0, "0.0 percentage points"),
        ("money", 0.4, "£0.40"),
        ("money", -0.4, "£0.40"),
        ("money", 0.001, "less than £0.01"),
        ("money", 1234.5, "£1.23k"),
        ("count", 200000, "200,000"),
        ("count", 0.2, "less than 1"),
        ("percent", None, "Not provided"),
    ],
)
def test_difference(unit, amount, expected):
    assert difference(unit, amount) == expected


def test_with_exact_is_the_text_and_exact_value_each_formatter_gives():
    """``with_exact`` reads the value as a decimal once for both texts: the same text as
    ``for_unit`` and the same title as ``money_exact`` / ``percent_exact`` (None for a count or
    a missing value), at every boundary the formatters treat apart."""
    import random

    import numpy as np

    from perfgen import formatters

    generator = random.Random(7)
    values: list[object] = [0, 0.0, -0.0, 1, 1.0, 0.00004, 0.00005, -0.00004, 0.99995, 0.999951, 1.00001, 2.675, 99.995, 99.994, 100,
                            -99.995, 1234567.891, 999950, 1e12, -2.5e9, 0.1 + 0.2, Decimal("2.675"), np.float64(0.903), np.int64(12)]
    values += [generator.uniform(-2, 2) for _ in range(300)] + [generator.uniform(-1e7, 1e7) for _ in range(300)]
    for unit in ("percent", "money", "count"):
        for value in values:
            exact = {"percent": formatters.percent_exact, "money": formatters.money_exact}.get(unit)
            assert formatters.with_exact(unit, value) == (formatters.for_unit(unit, value), exact(value) if exact else None), (unit, value)
        for value in (None, float("nan")):
            assert formatters.with_exact(unit, value) == (formatters.NOT_PROVIDED, None)
