import pytest

from krm_fn import durations


@pytest.mark.parametrize("text, canonical", [
    ("1h", "1h0m0s"), ("90m", "1h30m0s"), ("15s", "15s"), ("1.5s", "1.5s"), ("500ms", "500ms"),
    ("0", "0s"), ("0s", "0s"), ("1h30m", "1h30m0s"), ("2h45m30.5s", "2h45m30.5s"), ("1us", "1\u00b5s"),
    ("1500ns", "1.5\u00b5s"), ("72h", "72h0m0s"), ("1m", "1m0s"), ("3600s", "1h0m0s"), ("+5m", "5m0s"),
])
def test_canonical_form_is_gos(text: str, canonical: str) -> None:
    assert durations.canonical(text) == canonical


@pytest.mark.parametrize("text, message", [
    ("5d", "unknown unit 'd'"), ("abc", "invalid duration"), ("", "invalid duration"),
    ("1", "missing unit"), ("1h-1m", "invalid duration"), ("h", "invalid duration"),
])
def test_invalid_durations(text: str, message: str) -> None:
    with pytest.raises(durations.DurationError, match=message):
        durations.parse(text)


def test_negative_parses_like_go() -> None:
    assert durations.parse("-1s") == -1_000_000_000
    assert durations.format(-1_500_000_000) == "-1.5s"
