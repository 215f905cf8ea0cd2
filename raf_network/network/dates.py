"""The free-text dates people typed into the alumni portal's employment history (``pocetak``/``kraj``), read as the
first day of a month.

What people type: a month name in Serbian Cyrillic, Serbian Latin (with or without diacritics) or English, often
misspelt or inflected (``Окотобар 2019``, ``Mart 2018.``, ``Sep 2020``, ``septembra 2017``), glued to its year
(``Јануар2016``), month numbers (``10.2019``, ``10/2019``, ``2019-10``, ``01.10.2019.``), a bare year (``2020`` →
2020-01-01), words meaning "to this day" (``Тренутно``, ``Trenutno``, ``sada``, ``present`` …), or nothing.

How: the text is transliterated to Latin and its diacritics folded, so the three alphabets become one; words are
then matched against the month names with rapidfuzz (edit-distance similarity with a threshold), not against a list
of known misspellings. A word close to two different months (``ju`` → jun? jul?) is not guessed. Years must lie in
``MIN_YEAR`` … next year. ``month_date_parse`` returns the date, or None for "to this day" and empty text, and
raises ``UnreadableDate`` for anything else, which the import lists in its report.
"""
import re
import unicodedata
from datetime import date

from rapidfuzz import fuzz, process

MIN_YEAR = 1950
# Similarity (0–100, rapidfuzz's normalised Indel ratio) a word needs to count as a month name or a "to this day"
# word. 75 accepts one wrong, missing or extra letter in a 4-letter word (``marz``, ``juni``) and more in longer
# ones (``okotobar``, ``febuar``), and refuses ``jan`` for ``jun`` (67).
MONTH_THRESHOLD = 75
PRESENT_THRESHOLD = 80

# Serbian Cyrillic → Serbian Latin (the official one-to-one mapping; the digraphs stay digraphs).
CYRILLIC_TO_LATIN = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z", "и": "i", "ј": "j",
    "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š",
})

# Month names after transliteration and folding: Serbian (also Croatian/Bosnian spellings people use), English,
# and the usual abbreviations. Inflected forms (``marta``, ``oktobra``) are close enough to be matched fuzzily.
MONTH_NAMES = {
    1: ("januar", "january", "jan"),
    2: ("februar", "february", "feb"),
    3: ("mart", "march", "mar"),
    4: ("april", "apr"),
    5: ("maj", "may"),
    6: ("jun", "juni", "june"),
    7: ("jul", "juli", "july"),
    8: ("avgust", "august", "aug", "avg"),
    9: ("septembar", "september", "sep", "sept"),
    10: ("oktobar", "october", "okt", "oct"),
    11: ("novembar", "november", "nov"),
    12: ("decembar", "december", "dec"),
}
ROMAN_MONTHS = {numeral: month for month, numeral in enumerate(
    ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"), start=1)}
# Words (already folded) meaning "to this day": the job has not ended.
PRESENT_WORDS = (
    "trenutno", "sada", "sad", "danas", "do danas", "do sada", "i dalje", "jos uvek", "jos uvijek", "u toku",
    "aktuelno", "tekuce", "present", "current", "currently", "now", "today", "ongoing", "still", "to date",
    "till now", "until now",
)
# Words that only decorate a date ("mart 2018. godine", "od 2019", "since May 2020").
NOISE_WORDS = frozenset({"god", "godine", "godina", "g", "god.", "od", "do", "u", "since", "from", "of", "in", "the"})

_MONTH_CHOICES = [name for names in MONTH_NAMES.values() for name in names]
_MONTH_OF_CHOICE = [month for month, names in MONTH_NAMES.items() for _ in names]
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
_NUMERIC_FORMS = (
    # (pattern, group of the year, group of the month): the whole text must be one of these.
    (re.compile(r"(\d{4})"), 1, None),                                       # 2020
    (re.compile(r"(\d{1,2})\s*[./\-]\s*(\d{4})"), 2, 1),                     # 10.2019, 10/2019, 10-2019
    (re.compile(r"(\d{4})\s*[./\-]\s*(\d{1,2})"), 1, 2),                     # 2019-10, 2019/10
    (re.compile(r"\d{1,2}\s*[./\-]\s*(\d{1,2})\s*[./\-]\s*(\d{4})"), 2, 1),  # 01.10.2019
    (re.compile(r"(\d{4})\s*-\s*(\d{1,2})\s*-\s*\d{1,2}"), 1, 2),            # 2019-10-01
)


class UnreadableDate(ValueError):
    """The text is neither a month, a year nor "to this day"."""


def text_fold(text):
    """Lower-case Latin without diacritics: Cyrillic transliterated, ``č ć š ž`` → ``c c s z``, ``đ`` → ``dj``."""
    latin = text.lower().translate(CYRILLIC_TO_LATIN).replace("đ", "dj")
    decomposed = unicodedata.normalize("NFKD", latin)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def month_date_parse(text, *, today=None):
    """The first day of the month ``text`` names; None for "to this day" and for empty text.

    Raises ``UnreadableDate`` when the text is something else (garbage, a month without a year, two years, a year
    outside ``MIN_YEAR`` … next year)."""
    if text is None:
        return None
    folded = text_fold(str(text)).strip()
    # A trailing full stop is how Serbian writes ordinal numbers and years ("2018."); other punctuation is noise.
    bare = re.sub(r"[.\s]+$", "", folded)
    if not _TOKEN.search(bare):
        return None  # empty, or only punctuation ("-", "/"): nothing was entered
    max_year = (today or date.today()).year + 1
    numeric = _numeric_parse(bare, max_year)
    if numeric is not None:
        return numeric
    tokens = [token for token in _TOKEN.findall(bare) if token not in NOISE_WORDS]
    numbers = [token for token in tokens if token.isdigit()]
    words = [token for token in tokens if not token.isdigit()]
    if not numbers:
        if _is_present(words):
            return None
        raise UnreadableDate(f"no year in {text!r}")
    years = [int(number) for number in numbers if len(number) == 4]
    if len(years) != 1:
        raise UnreadableDate(f"{'no' if not years else 'more than one'} year in {text!r}")
    year = _year_checked(years[0], max_year, text)
    if not words:
        if len(numbers) == 1:
            return date(year, 1, 1)  # a year and noise words ("2019. godine", "od 2019")
        # Several numbers in no form above ("15 2019", "2019 10 5"): do not guess which one is the month.
        raise UnreadableDate(f"no month in {text!r}")
    return date(year, _month_of(words, text), 1)


def _numeric_parse(bare, max_year):
    for pattern, year_group, month_group in _NUMERIC_FORMS:
        match = pattern.fullmatch(bare)
        if match is None:
            continue
        year = _year_checked(int(match.group(year_group)), max_year, bare)
        month = int(match.group(month_group)) if month_group else 1
        if not 1 <= month <= 12:
            raise UnreadableDate(f"month {month} in {bare!r}")
        return date(year, month, 1)
    return None


def _year_checked(year, max_year, text):
    if not MIN_YEAR <= year <= max_year:
        raise UnreadableDate(f"year {year} in {text!r} is not between {MIN_YEAR} and {max_year}")
    return year


def _is_present(words):
    """The words (no digits among them) say "to this day": as a whole ("do sada", "i dalje") or in one of them
    ("Trenutno radim ovde", "currently employed")."""
    if not words:
        return False
    candidates = (" ".join(words), *words)
    return any(process.extractOne(candidate, PRESENT_WORDS, scorer=fuzz.ratio, score_cutoff=PRESENT_THRESHOLD)
               is not None for candidate in candidates)


def _month_of(words, text):
    """The month the words name. Every word must be a month name (or a Roman numeral): a date with other words in
    it ("leto 2019", "asdf 2019") is reported rather than read as January."""
    months = set()
    for word in words:
        month = ROMAN_MONTHS.get(word) or _month_match(word)
        if month is None:
            raise UnreadableDate(f"{word!r} in {text!r} is not a month")
        months.add(month)
    if len(months) != 1:
        raise UnreadableDate(f"more than one month in {text!r}")
    return months.pop()


def _month_match(word):
    if len(word) < 3:
        return None
    matches = process.extract(word, _MONTH_CHOICES, scorer=fuzz.ratio, score_cutoff=MONTH_THRESHOLD, limit=None)
    if not matches:
        return None
    best = matches[0][1]
    months = {_MONTH_OF_CHOICE[index] for _choice, score, index in matches if score == best}
    # As close to two different months (e.g. "jux": jun, jul): ambiguous, not guessed.
    return months.pop() if len(months) == 1 else None
