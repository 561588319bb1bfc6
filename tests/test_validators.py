"""Free text holds no control or text-direction characters (PROTOCOL section 3)."""

import pytest
from django.core.exceptions import ValidationError

from screening.validators import PlainTextValidator

CONTROL = "Remove the invisible control character {}, usually copied in from another program."
BIDI = (
    "Remove the invisible text-direction character {}: it can make the text display "
    "differently from what is stored."
)


def refusal(validator, value) -> str | None:
    try:
        validator(value)
    except ValidationError as error:
        return " ".join(error.messages)
    return None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Wang\x01Jianguo", CONTROL.format("U+0001")),
        ("王建国\x1b[0m", CONTROL.format("U+001B")),
        ("Wang\tJianguo", CONTROL.format("U+0009")),
        ("Wang\nJianguo", CONTROL.format("U+000A")),
        ("Wang\rJianguo", CONTROL.format("U+000D")),
        ("Wang\x7f", CONTROL.format("U+007F")),
        ("Wang\x85", CONTROL.format("U+0085")),
        ("WU\u202e100004", BIDI.format("U+202E")),
        ("\u202aWang", BIDI.format("U+202A")),
        ("Wang\u2066x\u2069", BIDI.format("U+2066")),
        ("\u200fWang", BIDI.format("U+200F")),
        ("\u200eWang", BIDI.format("U+200E")),
    ],
)
def test_a_one_line_text_refuses_control_and_direction_characters(value, message):
    assert refusal(PlainTextValidator(), value) == message


@pytest.mark.parametrize(
    "value", ["王建国", "欧阳 建国", "O'Brien-Smith", "Zoë Ñúñez", "WU100004", "Dr 孙", "😀", ""]
)
def test_ordinary_text_in_any_script_passes(value):
    assert refusal(PlainTextValidator(), value) is None
    assert refusal(PlainTextValidator(multiline=True), value) is None


def test_a_multiline_text_keeps_its_line_breaks_and_nothing_else():
    validator = PlainTextValidator(multiline=True)

    assert refusal(validator, "Fit for therapy.\r\nSecond line\nthird\r") is None
    assert refusal(validator, "a\tb") == CONTROL.format("U+0009")
    assert refusal(validator, "line\n\x0bline") == CONTROL.format("U+000B")
    assert refusal(validator, "a\u202eb") == BIDI.format("U+202E")


def test_nul_is_left_to_djangos_own_validator():
    assert refusal(PlainTextValidator(), "a\x00b") is None
