from decimal import Decimal

from screening.text import format_number

D = Decimal


def test_format_number_drops_trailing_zeros_without_exponent():
    assert format_number(D("31.50")) == "31.5"
    assert format_number(D("1E+2")) == "100"
    assert format_number(D("0.000")) == "0"
    assert format_number(60) == "60"
