"""Chinese resident identity number (GB 11643) checks (PROTOCOL section 3). Pure Python."""

from __future__ import annotations

import datetime

from screening.text import gettext_noop, render

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
_DIGITS = frozenset("0123456789")  # str.isdigit() would also accept e.g. "²" or "٣"


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for the first 17 digits."""
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError("check_character needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def national_id_problems(
    national_id: str, date_of_birth: datetime.date | None, sex: str | None
) -> list[str]:
    """Readable problems with ``national_id``; an empty list when it is valid.

    Surrounding whitespace is ignored and a lowercase x check character is accepted (the
    canonical form is uppercase: store ``national_id.strip().upper()``). When the shape is
    wrong (length, non-digits) only that is reported: the other checks would be noise.
    ``date_of_birth`` and ``sex`` are compared only when given.
    """
    value = national_id.strip().upper()
    if len(value) != 18:
        return [
            render(
                gettext_noop("must be 18 characters, not {length}"),
                {"length": len(value)},
            )
        ]
    problems = []
    if not _DIGITS.issuperset(value[:17]):
        problems.append(render(gettext_noop("the first 17 characters must be digits"), {}))
    if value[17] not in _DIGITS and value[17] != "X":
        problems.append(render(gettext_noop("the last character must be a digit or X"), {}))
    if problems:
        return problems

    expected = check_character(value[:17])
    if value[17] != expected:
        problems.append(
            render(
                gettext_noop(
                    "check character {actual} does not fit the first 17 digits (they give "
                    "{expected}): check every digit, not only the last"
                ),
                {"expected": expected, "actual": value[17]},
            )
        )

    embedded = value[6:14]
    try:
        id_birth_date = datetime.date(int(embedded[:4]), int(embedded[4:6]), int(embedded[6:]))
    except ValueError:
        problems.append(
            render(
                gettext_noop("birth date in ID ({digits}) is not a real date"),
                {"digits": embedded},
            )
        )
    else:
        if date_of_birth is not None and id_birth_date != date_of_birth:
            problems.append(
                render(
                    gettext_noop(
                        "birth date in ID ({id_date}) differs from date of birth ({date_of_birth})"
                    ),
                    {"id_date": id_birth_date, "date_of_birth": date_of_birth},
                )
            )

    sex_digit = int(value[16])
    if sex_digit % 2:
        template = gettext_noop("17th digit is odd, which means male, but sex is {sex}")
        contradicts = sex == "F"
    else:
        template = gettext_noop("17th digit is even, which means female, but sex is {sex}")
        contradicts = sex == "M"
    if contradicts:
        problems.append(render(template, {"sex": sex}))
    return problems
