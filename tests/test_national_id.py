import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screening.national_id import check_character, national_id_problems

VALID_MALE = "620602195804210315"  # born 1958-04-21, 17th digit 1 (odd)
VALID_FEMALE = "620602195804210323"  # same birth date, 17th digit 2 (even)
VALID_X = "11010519491231002X"  # born 1949-12-31, female, check character X
DOB = datetime.date(1958, 4, 21)


def _with_check(first17: str) -> str:
    return first17 + check_character(first17)


def test_check_character_of_known_ids():
    assert check_character(VALID_MALE[:17]) == "5"
    assert check_character(VALID_FEMALE[:17]) == "3"
    assert check_character(VALID_X[:17]) == "X"


@pytest.mark.parametrize("bad", ["1234", "6206021958042103A", "6206021958042103²"])
def test_check_character_needs_17_digits(bad):
    with pytest.raises(ValueError):
        check_character(bad)


def test_valid_ids_have_no_problems():
    assert national_id_problems(VALID_MALE, DOB, "M") == []
    assert national_id_problems(VALID_FEMALE, DOB, "F") == []
    assert national_id_problems(VALID_X, datetime.date(1949, 12, 31), "F") == []


def test_lowercase_x_is_accepted():
    assert national_id_problems(VALID_X.lower(), datetime.date(1949, 12, 31), "F") == []


def test_surrounding_whitespace_is_ignored():
    assert national_id_problems(f" {VALID_MALE} ", DOB, "M") == []


def test_wrong_check_character():
    assert national_id_problems(VALID_MALE[:17] + "3", DOB, "M") == [
        "check character 3 does not fit the first 17 digits (they give 5): check every digit, "
        "not only the last"
    ]
    assert national_id_problems(VALID_MALE[:17] + "X", DOB, "M") == [
        "check character X does not fit the first 17 digits (they give 5): check every digit, "
        "not only the last"
    ]


@pytest.mark.parametrize("value", [VALID_MALE[:17], VALID_MALE + "1", ""])
def test_wrong_length(value):
    assert national_id_problems(value, DOB, "M") == [f"must be 18 characters, not {len(value)}"]


def test_non_digit_in_the_first_17():
    value = "62060A" + VALID_MALE[6:]
    assert national_id_problems(value, DOB, "M") == ["the first 17 characters must be digits"]


def test_unicode_digits_are_not_digits():
    value = "٦" + VALID_MALE[1:]  # Arabic-Indic six: isdigit() but not an ID digit
    assert national_id_problems(value, DOB, "M") == ["the first 17 characters must be digits"]


def test_last_character_must_be_digit_or_x():
    assert national_id_problems(VALID_MALE[:17] + "Y", DOB, "M") == [
        "the last character must be a digit or X"
    ]


def test_birth_date_differs_from_date_of_birth():
    problems = national_id_problems(VALID_MALE, datetime.date(1958, 4, 22), "M")
    assert problems == ["birth date in ID (1958-04-21) differs from date of birth (1958-04-22)"]


def test_embedded_birth_date_must_be_real():
    value = _with_check("620602195804310315"[:17])  # 31 April
    assert national_id_problems(value, None, "M") == [
        "birth date in ID (19580431) is not a real date"
    ]
    value = _with_check("62060219590229031")  # 1959 is not a leap year
    assert national_id_problems(value, None, "M") == [
        "birth date in ID (19590229) is not a real date"
    ]


def test_male_id_for_a_woman():
    assert national_id_problems(VALID_MALE, DOB, "F") == [
        "17th digit is odd, which means male, but sex is F"
    ]


def test_female_id_for_a_man():
    assert national_id_problems(VALID_FEMALE, DOB, "M") == [
        "17th digit is even, which means female, but sex is M"
    ]


def test_dob_and_sex_are_compared_only_when_given():
    assert national_id_problems(VALID_MALE, None, None) == []


def test_several_problems_are_all_reported():
    problems = national_id_problems(VALID_FEMALE[:17] + "0", datetime.date(1960, 1, 1), "M")
    assert len(problems) == 3
    assert problems[0].startswith(
        "check character 0 does not fit the first 17 digits (they give 3)"
    )


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_check_character_problem_iff_last_character_is_wrong(first17, last):
    problems = national_id_problems(first17 + last, None, None)
    wrong_check = [p for p in problems if p.startswith("check character")]
    assert bool(wrong_check) == (last != check_character(first17))
