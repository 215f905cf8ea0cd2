"""The portal's free-text employment dates: what people type, read as the first of the month; "to this day" and
nothing are None; anything else is unreadable (the import reports it)."""
from datetime import date

import pytest

from raf_network.network.dates import UnreadableDate, month_date_parse, text_fold

TODAY = date(2026, 12, 1)

READABLE = [
    # Serbian Cyrillic, misspelt, inflected, glued to the year
    ("Окотобар 2019", date(2019, 10, 1)),
    ("Октобар 2019", date(2019, 10, 1)),
    ("Јануар2016", date(2016, 1, 1)),
    ("јануара 2016.", date(2016, 1, 1)),
    ("Фебруар 2017.", date(2017, 2, 1)),
    ("Сеп 2018", date(2018, 9, 1)),
    ("Децембар 2018", date(2018, 12, 1)),
    ("Јул 2021", date(2021, 7, 1)),
    ("ЈУН 2014", date(2014, 6, 1)),
    ("Оktobar 2019", date(2019, 10, 1)),  # a Cyrillic О in Latin text
    # Serbian Latin, with and without diacritics
    ("Mart 2018.", date(2018, 3, 1)),
    ("marta 2018", date(2018, 3, 1)),
    ("septembra 2017", date(2017, 9, 1)),
    ("Avgust 2015.", date(2015, 8, 1)),
    ("avgusta 2014", date(2014, 8, 1)),
    ("Decembar 2015.", date(2015, 12, 1)),
    ("febuar 2015", date(2015, 2, 1)),
    ("Novembar2018", date(2018, 11, 1)),
    ("nov2018", date(2018, 11, 1)),
    ("Okt. 2019", date(2019, 10, 1)),
    ("juli 2016", date(2016, 7, 1)),
    ("maj 2022", date(2022, 5, 1)),
    ("15. mart 2018", date(2018, 3, 1)),
    ("od aprila 2020", date(2020, 4, 1)),
    ("mart 2018. godine", date(2018, 3, 1)),
    # English
    ("Sep 2020", date(2020, 9, 1)),
    ("Sept. 2020", date(2020, 9, 1)),
    ("September 2020", date(2020, 9, 1)),
    ("Octobre 2019", date(2019, 10, 1)),
    ("Febuary 2017", date(2017, 2, 1)),
    ("since May 2020", date(2020, 5, 1)),
    ("Aug 2013", date(2013, 8, 1)),
    ("marz 2017", date(2017, 3, 1)),
    # numbers
    ("2020", date(2020, 1, 1)),
    ("2019.", date(2019, 1, 1)),
    ("2019. godine", date(2019, 1, 1)),
    ("10.2019", date(2019, 10, 1)),
    ("10.2019.", date(2019, 10, 1)),
    ("10/2019", date(2019, 10, 1)),
    ("3/2019", date(2019, 3, 1)),
    ("10-2019", date(2019, 10, 1)),
    ("2019-10", date(2019, 10, 1)),
    ("2019/10", date(2019, 10, 1)),
    ("01.10.2019.", date(2019, 10, 1)),
    ("2019-10-15", date(2019, 10, 1)),
    ("X 2019", date(2019, 10, 1)),  # a Roman numeral month
    ("  Mart   2018  ", date(2018, 3, 1)),
    ("1950", date(1950, 1, 1)),
    ("2027", date(2027, 1, 1)),  # next year: a job agreed to start then
]

TO_THIS_DAY_OR_NOTHING = [
    "Тренутно", "Trenutno", "trenutno", "TRENUTNO", "Трenutno", "trenutono", "sada", "Sada", "danas", "do danas",
    "До данас", "i dalje", "još uvek", "present", "Present", "current", "currently", "now", "ongoing",
    "Trenutno radim ovde", "", "   ", None, "-", "/", "—", ".",
]

UNREADABLE = [
    "blabla", "uskoro", "leto 2019", "asdf 2019", "Mart", "Sep", "2018-2020", "mart 2018 - jun 2019", "13.2019",
    "0.2019", "2019/20", "10/19", "1949", "3000", "2028", "Mary 2019", "15 2019", "xyz", "n/a 2020", "2019 maj jun",
]


@pytest.mark.parametrize("text, expected", READABLE)
def test_readable_dates_become_the_first_of_their_month(text, expected):
    assert month_date_parse(text, today=TODAY) == expected


@pytest.mark.parametrize("text", TO_THIS_DAY_OR_NOTHING)
def test_to_this_day_and_nothing_are_none(text):
    assert month_date_parse(text, today=TODAY) is None


@pytest.mark.parametrize("text", UNREADABLE)
def test_what_cannot_be_read_is_unreadable_not_a_guess(text):
    with pytest.raises(UnreadableDate):
        month_date_parse(text, today=TODAY)


def test_the_year_range_follows_today():
    assert month_date_parse("2028", today=date(2027, 3, 1)) == date(2028, 1, 1)
    with pytest.raises(UnreadableDate, match="1950"):
        month_date_parse("jan 1949", today=TODAY)


def test_the_three_alphabets_fold_to_one():
    assert text_fold("Ђорђе Шарић Čolić Жижа") == "djordje saric colic ziza"
    assert text_fold("Окотобар") == "okotobar"
