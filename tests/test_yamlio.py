"""Scalar fidelity: values keep the meaning Kubernetes tooling gives them.

kpt/kustomize read YAML 1.2 (go-yaml v3); kubectl and Argo CD convert with
go-yaml v2 (YAML 1.1 booleans). A value must come out meaning the same for
both, and a non-string must keep its exact text.
"""
from __future__ import annotations

import pytest
import yaml

from krm_fn import limits, yamlio
from krm_fn.yamlio import RawScalar

# Plain scalars that go-yaml v3 reads as strings, but YAML 1.1 readers
# (PyYAML's default, go-yaml v2) would not: they must stay strings.
YAML11_TRAPS = ["on", "off", "On", "OFF", "yes", "no", "Yes", "NO", "y", "n", "Y", "N",
                "12:30", "1:20:30", "="]
# Non-strings whose text must survive byte for byte.
KEEP_TEXT = ["0b101_1", "0755", "0o17", "0x1F", "1e3", "1.50", "-0", "+12", ".inf", "-.Inf", ".nan", "1_000_000",
             "123456789012345678901234567890", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
             "2001-12-14 21:59:43.10", "3.0e-10",
             # go-yaml removes "_" from a number that starts with a digit or a sign before reading it
             "+_1", "-_1", "1_", "1e0_", "1e_3", "0_x1F", "-_0x1E", "+_.5"]
# Strings that look like something else once quotes are lost.
QUOTED = ["'on'", "'true'", "'0755'", "'123'", "'1e3'", "'null'", "'~'", "''", "'2001-12-14'", "'0o17'",
          "'-'", "'<<'", "'12:30'", "' leading space'", "'a: b'", "'#comment'", "'@at'", "'%pct'", "'+_1'",
          "'1e0_'"]


@pytest.mark.parametrize("text", YAML11_TRAPS)
def test_yaml11_words_stay_strings(text: str) -> None:
    value = yamlio.load_all(f"v: {text}")[0]["v"]
    assert value == text and isinstance(value, str)
    out = yamlio.dump({"v": value})
    assert yamlio.load_all(out)[0]["v"] == text
    # A YAML 1.1 reader of our output also sees the string.
    assert yaml.safe_load(out)["v"] == text


@pytest.mark.parametrize("text", KEEP_TEXT)
def test_non_strings_keep_their_text(text: str) -> None:
    value = yamlio.load_all(f"v: {text}")[0]["v"]
    assert isinstance(value, RawScalar), f"{text} was read as a {type(value).__name__}"
    assert yamlio.dump({"v": value}) == f"v: {text}\n"


@pytest.mark.parametrize("text, tag", [("+_1", yamlio.INT), ("-_0x1E", yamlio.INT), ("0_x1F", yamlio.INT),
                                       ("1e0_", yamlio.FLOAT), ("+_.5", yamlio.FLOAT), ("1_000", yamlio.INT)])
def test_numbers_with_underscores_are_typed_as_go_yaml_types_them(text: str, tag: str) -> None:
    assert yamlio.load_all(f"v: {text}")[0]["v"].tag == tag


# go-yaml v3 (resolve.go) reads a number only where strconv does: integers in 64 bits (signed, or
# unsigned without a sign), finite floats, and from a text starting with "." what ParseFloat reads
# there (no "_"). Anything else that looks like a number is a string.
@pytest.mark.parametrize("text, tag", [
    ("0xFFFFFFFFFFFFFFFF", yamlio.INT), ("0x1_0000_0000_0000_0000", yamlio.STR),
    ("+0x7FFFFFFFFFFFFFFF", yamlio.INT), ("+0x8000000000000000", yamlio.STR),  # ParseUint takes no sign
    ("-0x8000000000000000", yamlio.INT), ("-0x8000000000000001", yamlio.STR),
    ("0b" + "1" * 64, yamlio.INT), ("0b1" + "0" * 64, yamlio.STR), ("0o1777777777777777777777", yamlio.INT),
    ("0o2000000000000000000000", yamlio.STR), ("0x" + "0" * 5000 + "1", yamlio.INT),
    ("18446744073709551615", yamlio.INT), ("18446744073709551616", yamlio.FLOAT), ("0789", yamlio.FLOAT),
    ("1e308", yamlio.FLOAT), ("1e309", yamlio.STR), ("-1e400", yamlio.STR), ("1e-400", yamlio.FLOAT),
    ("9" * 400, yamlio.STR),
    (".5", yamlio.FLOAT), (".5e3", yamlio.FLOAT), (".5e999", yamlio.STR),
    # a text starting with "." keeps its "_", which ParseFloat allows only between digits
    (".5_5", yamlio.FLOAT), (".1_000", yamlio.FLOAT), (".5e1_0", yamlio.FLOAT), (".5E+1_0", yamlio.FLOAT),
    ("._5", yamlio.STR), (".5_", yamlio.STR), (".5__5", yamlio.STR), (".5_e1", yamlio.STR),
    # go-yaml's own 0b/0o branches hand ParseInt what follows the prefix, a sign included (lower case only)
    ("0b-1", yamlio.INT), ("0b+1", yamlio.INT), ("0o-7", yamlio.INT), ("0o+7", yamlio.INT), ("0_b-_1", yamlio.INT),
    ("0B-1", yamlio.STR), ("-0b-1", yamlio.STR), ("0b+1" + "0" * 63, yamlio.STR), ("0b-1" + "0" * 63, yamlio.INT),
    ("0x", yamlio.STR), ("0o", yamlio.STR), ("0b2", yamlio.STR), ("1e", yamlio.STR), ("0_x1F", yamlio.INT),
    ("1e_+5", yamlio.FLOAT),
])
def test_numbers_are_what_strconv_reads(text: str, tag: str) -> None:
    assert yamlio.resolve_plain(text) == tag
    value = yamlio.load_all(f"v: {text}")[0]["v"]
    if tag == yamlio.STR:
        assert value == text
        assert yaml.safe_load(yamlio.dump({"v": value}))["v"] == text  # quoted for YAML 1.1 readers
    else:
        assert isinstance(value, RawScalar) and value.tag == tag and yamlio.dump({"v": value}) == f"v: {text}\n"


@pytest.mark.parametrize("text", ["_1", "_1_000", "x_1"])  # go-yaml reads a number only from a digit or a sign on
def test_a_leading_underscore_is_a_string(text: str) -> None:
    assert yamlio.load_all(f"v: {text}")[0]["v"] == text


@pytest.mark.parametrize("text", QUOTED)
def test_quoted_strings_stay_strings(text: str) -> None:
    value = yamlio.load_all(f"v: {text}")[0]["v"]
    assert isinstance(value, str)
    out = yamlio.dump({"v": value})
    assert yamlio.load_all(out)[0]["v"] == value
    assert yaml.safe_load(out)["v"] == value


@pytest.mark.parametrize("text, expected", [("true", True), ("False", False), ("TRUE", True),
                                            ("null", None), ("~", None), ("", None)])
def test_bools_and_nulls(text: str, expected) -> None:
    assert yamlio.load_all(f"v: {text}")[0]["v"] is expected


def test_multiline_and_unicode_round_trip() -> None:
    data = {"script": "line one\nline two\n", "name": "caf\u00e9 \u2603", "tab": "a\tb"}
    out = yamlio.dump(data)
    assert "script: |" in out and "caf\u00e9" in out
    assert yamlio.load_all(out)[0] == data


def test_output_has_no_anchors_even_for_shared_objects() -> None:
    shared = {"a": 1}
    out = yamlio.dump({"x": shared, "y": shared})
    assert "&" not in out and "*" not in out


def test_duplicate_keys_are_an_error_with_a_line() -> None:
    with pytest.raises(yamlio.YamlError) as info:
        yamlio.load_all("a: 1\nb: 2\na: 3\n")
    assert info.value.line == 3
    assert "duplicate mapping key 'a'" in str(info.value)


def test_python_tags_are_refused() -> None:
    with pytest.raises(yamlio.YamlError):
        yamlio.load_all("v: !!python/object/apply:os.system ['true']\n")


def test_json_numbers_keep_their_text() -> None:
    doc = yamlio.load_all('{"a": 1.50, "b": 10000000000000000000000, "c": "on"}')[0]
    assert yamlio.dump(doc) == "a: 1.50\nb: 10000000000000000000000\nc: 'on'\n"


def test_json_is_read_as_a_yaml_reader_reads_it() -> None:
    """JSON input takes a faster reader; it must give what the YAML reader gives (kpt reads JSON as YAML),
    NaN and Infinity (not JSON, plain words to YAML) included: never a tag go-yaml would refuse."""
    text = '{"a": 1.50, "b": 10000000000000000000000, "c": 1e999, "d": NaN, "e": -Infinity, "f": [1, "x"]}'
    assert yamlio.load_all(text) == yamlio._load_yaml(text, limits.Measure())
    assert yamlio.dump(yamlio.load_all(text)[0]) == ("a: 1.50\nb: 10000000000000000000000\nc: '1e999'\nd: NaN\n"
                                                      "e: -Infinity\nf:\n- 1\n- x\n")


def test_json_numbers_mean_what_go_yaml_reads() -> None:
    """kpt reads JSON as YAML: an integer beyond 64 bits is a float, one beyond a float's range a string."""
    doc = yamlio.load_all('{"i": 9223372036854775807, "b": 10000000000000000000000, "s": 1e999}')[0]
    assert (doc["i"].tag, doc["b"].tag, doc["s"]) == (yamlio.INT, yamlio.FLOAT, "1e999")
    assert yamlio.dump(doc) == "i: 9223372036854775807\nb: 10000000000000000000000\ns: '1e999'\n"


def test_invalid_utf8_and_bom() -> None:
    with pytest.raises(yamlio.YamlError, match="not UTF-8"):
        yamlio.decode(b"a: \xff\n")
    assert yamlio.decode("\ufeffa: 1\n".encode()) == "a: 1\n"
