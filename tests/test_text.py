from decimal import Decimal

from django.utils import translation

from screening.text import format_number, join_clauses, join_items, join_words

D = Decimal


def test_format_number_drops_trailing_zeros_without_exponent():
    assert format_number(D("31.50")) == "31.5"
    assert format_number(D("1E+2")) == "100"
    assert format_number(D("0.000")) == "0"
    assert format_number(60) == "60"


def test_lists_join_as_english_writes_them():
    with translation.override("en"):
        assert join_words(["I2"]) == "I2"
        assert join_words(["I2", "I4"]) == "I2 and I4"
        assert join_words(["I1", "I2", "I4"]) == "I1, I2 and I4"
        assert join_items(["ALT", "AST"]) == "ALT, AST"
        assert join_clauses(["labs undated", "missing: ALT"]) == "labs undated; missing: ALT"


def test_lists_join_as_chinese_writes_them():
    with translation.override("zh-hans"):
        assert join_words(["I2"]) == "I2"
        assert join_words(["I2", "I4"]) == "I2 和 I4"
        assert join_words(["I1", "I2", "I4"]) == "I1、I2 和 I4"
        assert join_items(["出生日期", "筛选日期"]) == "出生日期、筛选日期"
        assert join_clauses(["血液检查未注明日期", "缺少：ALT"]) == "血液检查未注明日期；缺少：ALT"
