"""The one hour parser (``shopstream.hours``): what every --hour in the CLI, the spark-submit entry
points, the orchestration module and ``lake show|count`` accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shopstream.hours import check_hour, format_hour, parse_hour

TEN = datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24T10",
        " 2026-11-24T10 ",
        "2026-11-24 10",
        "2026-11-24T10:00",
        "2026-11-24T10:00:00",
        "2026-11-24T10:00:00Z",
        "2026-11-24T10:00:00+00:00",
        "2026-11-24T19:00+09:00",
        "2026-11-24T05:00:00-05:00",
    ],
)
def test_an_hour_in_any_iso_form_is_the_same_utc_hour(text: str) -> None:
    assert parse_hour(text) == TEN
    assert format_hour(parse_hour(text)) == "2026-11-24T10"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2026-11-24T10:30", "not the top of an hour"),
        ("2026-11-24T10:00:01Z", "not the top of an hour"),
        ("2026-11-24T10:00+05:30", "not the top of an hour"),  # 04:30 UTC
        ("2026-11-24", "is not an hour like"),
        ("2026-13-01T00", "is not an hour like"),
        ("2026-11-24T24", "is not an hour like"),
        ("yesterday", "is not an hour like"),
        ("", "is not an hour like"),
    ],
)
def test_what_is_not_an_hour_is_refused_with_its_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_hour(text)


def test_check_and_format_need_an_aware_top_of_the_hour() -> None:
    assert check_hour(datetime(2026, 11, 24, 19, tzinfo=timezone(timedelta(hours=9)))) == TEN
    for bad in (datetime(2026, 11, 24, 10), TEN + timedelta(minutes=1)):
        with pytest.raises(ValueError):
            format_hour(bad)
