"""The users settings read from the environment, and the contract's e-mail → role rule on its own."""
from datetime import date

import pytest

from config import CONFIGS, ConfigError
from raf_network.users.services import role_for_email


def _config():
    """The testing settings, read from the environment now."""
    return CONFIGS["testing"]()


def test_defaults(monkeypatch):
    for name in ("GOOGLE_CLIENT_IDS", "SEMESTER_START", "SEMESTER_END", "STUDENT_EMAIL_DOMAIN", "LOGIN_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    config = _config()
    assert config.GOOGLE_CLIENT_IDS == [] and config.GOOGLE_CERTS_URL.startswith("https://www.googleapis.com/")
    assert (config.SEMESTER_START, config.SEMESTER_END) == (date(2026, 10, 1), date(2027, 1, 15))
    assert config.STUDENT_EMAIL_DOMAIN == "raf.rs" and config.LOGIN_RATE_LIMIT == "600/minute"
    assert config.LOGIN_FAILURE_RATE_LIMIT == "20/minute"
    assert config.MAX_DEVICES_PER_USER == 10


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLIENT_IDS", " android.apps.googleusercontent.com, ,ios.apps.googleusercontent.com ")
    monkeypatch.setenv("SEMESTER_START", "2027-02-22")
    monkeypatch.setenv("SEMESTER_END", "2027-06-04")
    monkeypatch.setenv("STUDENT_EMAIL_DOMAIN", "@RAF.rs")
    config = _config()
    assert config.GOOGLE_CLIENT_IDS == ["android.apps.googleusercontent.com", "ios.apps.googleusercontent.com"]
    assert (config.SEMESTER_START, config.SEMESTER_END) == (date(2027, 2, 22), date(2027, 6, 4))
    assert config.STUDENT_EMAIL_DOMAIN == "raf.rs"


@pytest.mark.parametrize("start, end", [("22.02.2027", "2027-06-04"), ("2027-06-04", "2027-02-22")])
def test_bad_semester_dates_refuse_to_start(monkeypatch, start, end):
    monkeypatch.setenv("SEMESTER_START", start)
    monkeypatch.setenv("SEMESTER_END", end)
    with pytest.raises(ConfigError, match="SEMESTER"):
        _config()


@pytest.mark.parametrize("email, expected", [
    ("mmarkovic1021rn@raf.rs", ("student", "RN10/21")),
    ("ppetrovic12322ri@raf.rs", ("student", "RI12/322")),
    ("ana.anic5019@raf.rs", ("student", "50/19")),
    ("x7@raf.rs", ("student", None)),
    ("dekanat@raf.rs", ("faculty_administrator", None)),
    ("mmarkovic1021rn@gmail.com", ("alumni", None)),
    ("someone@raf.rs.evil.com", ("alumni", None)),
])
def test_role_for_email(email, expected):
    assert role_for_email(email, student_domain="raf.rs") == expected
