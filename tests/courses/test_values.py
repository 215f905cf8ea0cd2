"""Values of catalogue data as the sources write them (courses/values.py)."""
from datetime import time

import pytest

from raf_network.courses import values


@pytest.mark.parametrize("text, expected", [
    ("11:15-13", (time(11, 15), time(13, 0))),
    ("09:15-12", (time(9, 15), time(12, 0))),
    ("8-10:30", (time(8, 0), time(10, 30))),
])
def test_time_range_parse(text, expected):
    assert values.time_range_parse(text) == expected


@pytest.mark.parametrize("text", ["13-11", "11:15", "25:00-26", "x-y", "11:75-13"])
def test_time_range_parse_rejects(text):
    with pytest.raises(ValueError):
        values.time_range_parse(text)


def test_day_codes_serbian_english_and_padding():
    assert values.day_index("\u00a0\u00a0PON\u00a0") == 0
    assert values.day_index("ČET") == 3 and values.day_index("thu") == 3
    with pytest.raises(ValueError):
        values.day_index("XYZ")
