"""The alumni portal client against a local portal stub: loose data read and validated, one retry of transient
failures, clear errors when the portal cannot be read."""
import socket
from datetime import date

import pytest

from raf_network.network.portal import PortalClient, PortalFetchError, PortalUnavailable
from tests.stubs.alumni_portal import AlumniPortalStub, alumnus, study


@pytest.fixture
def portal():
    people = {
        7: alumnus("Jelena", "Zorić", biography="Инжењерка софтвера.", linkedin="rs.linkedin.com/in/jelena-zoric",
                   picture="jelena.jpg",
                   studies={"osnovne": study(programme_id="1", enrolment_year="2012", graduated_on="2016-07-05",
                                             index=1234, thesis="Primena grafova", mentor="dr Ana Anić",
                                             commission="dr Ana Anić,  dr Marko Marković , ,prof. dr Petar Petrović")},
                   jobs=[("3", "Programer", "Mart 2018.", "Тренутно"), (None, "  ", "", None)]),
        8: {"ime": "Marko", "prezime": None, "nepoznato_polje": [1, 2], "studije": None},  # missing/null fields
    }
    with AlumniPortalStub(people=people, companies=[{"id": "3", "naziv": " Nordeus "}, {"id": 4, "naziv": ""}],
                          pictures={"jelena.jpg": b"\xff\xd8 not really a jpeg"}, slow_seconds=1.5) as stub:
        yield stub


@pytest.fixture
def client(portal):
    with PortalClient(url=portal.url + "/", concurrency=4, timeout=0.5) as client:
        yield client


def test_loose_data_is_read_into_typed_values(client):
    jelena = client.person_get(7)
    assert (jelena.id, jelena.first_name, jelena.last_name) == (7, "Jelena", "Zorić")
    assert jelena.linkedin == "rs.linkedin.com/in/jelena-zoric" and jelena.picture_name == "jelena.jpg"
    basic = jelena.studies["osnovne"]
    assert (basic.programme_id, basic.enrolment_year, basic.graduated_on) == (1, 2012, date(2016, 7, 5))
    assert basic.student_number == "1234"  # a number in the portal, text here
    assert basic.commission == ("dr Ana Anić", "dr Marko Marković", "prof. dr Petar Petrović")
    assert jelena.studies["master"] is None and jelena.studies["doktorske"] is None
    assert [(job.company_id, job.role, job.start_text, job.end_text) for job in jelena.jobs] == [
        (3, "Programer", "Mart 2018.", "Тренутно"), (None, "", None, None)]


def test_missing_and_null_fields_have_defaults_and_unknown_fields_are_ignored(client):
    marko = client.person_get(8)
    assert (marko.first_name, marko.last_name, marko.biography, marko.linkedin, marko.picture_name) == (
        "Marko", "", "", None, None)
    assert marko.studies == {"osnovne": None, "master": None, "doktorske": None} and marko.jobs == ()


def test_the_list_takes_ids_as_numbers_or_strings_and_reports_malformed_entries(portal, client):
    portal.people[9] = alumnus("Ana", "Anić")
    portal.listing = lambda: [{"id": "7", "ime": "Jelena"}, {"id": 8}, {"id": 7}, {"ime": "Bez Id"},
                              {"id": "x"}, "junk", {"id": 9, "ime": "Ana"}]
    people, problems = client.people_list()
    assert [person.id for person in people] == [7, 8, 9]  # 7 listed twice, fetched once
    assert len(problems) == 3 and all("list entry" in message for _id, message in problems)


def test_reference_data_is_validated(client):
    companies, problems = client.companies()
    assert companies == {3: "Nordeus"}
    assert len(problems) == 1 and "company 4" in problems[0][1]
    programmes, problems = client.programmes()
    assert programmes[2].name == "Računarsko inženjerstvo" and programmes[2].level_id == 109 and problems == []


def test_a_transient_failure_is_retried_once(portal, client):
    portal.failures[7] = "flaky"  # 503 once, then the answer
    assert client.person_get(7).first_name == "Jelena"
    assert portal.person_requests(7) == 2


@pytest.mark.parametrize("failure, reason, requests", [
    ("500", "HTTP 500", 1),  # not transient: not retried
    ("reset", "connection failed", 2),
    ("malformed", "not JSON", 1),
    ("invalid", "malformed: ime: Not a valid string.; zaposlenja: Not a valid list.", 1),
    ("slow", "timed out after 0.5 s", 1),  # a slow portal is not asked twice
])
def test_a_failed_person_is_a_fetch_error_with_its_reason(portal, client, failure, reason, requests):
    portal.failures[7] = failure
    with pytest.raises(PortalFetchError) as failed:
        client.person_get(7)
    assert reason in str(failed.value)
    assert portal.person_requests(7) == requests


def test_an_unknown_person_and_an_oversized_picture_are_fetch_errors(client):
    with pytest.raises(PortalFetchError, match="HTTP 404"):
        client.person_get(404)
    with pytest.raises(PortalFetchError, match="larger than 10 bytes"):
        client.picture_get("jelena.jpg", max_bytes=10)
    assert client.picture_get("jelena.jpg", max_bytes=1000).startswith(b"\xff\xd8")


@pytest.mark.parametrize("endpoint, read", [
    ("list", lambda client: client.people_list()),
    ("smerovi", lambda client: client.programmes()),
    ("kompanije", lambda client: client.companies()),
])
def test_the_portal_down_is_a_clear_error(portal, client, endpoint, read):
    portal.down.add(endpoint)
    with pytest.raises(PortalUnavailable) as down:
        read(client)
    assert down.value.code == 502
    assert "cannot be read" in down.value.message and "HTTP 503" in down.value.message
    assert portal.requests[f"/rs/api/{endpoint}"] == 2  # retried once


def test_a_list_that_is_not_an_array_is_a_clear_error(portal, client):
    portal.listing = lambda: {"error": "maintenance"}
    with pytest.raises(PortalUnavailable, match="not a JSON array"):
        client.people_list()


def test_nothing_listening_is_a_clear_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    with PortalClient(url=f"http://127.0.0.1:{port}", concurrency=2, timeout=0.5) as client:
        with pytest.raises(PortalUnavailable, match="connection failed"):
            client.programmes()


@pytest.mark.parametrize("setting, value", [("PORTAL_CONCURRENCY", 0), ("PORTAL_CONCURRENCY", 65),
                                            ("PORTAL_TIMEOUT", 0)])
def test_unusable_portal_settings_refuse_to_start(setting, value):
    from config import ConfigError
    from raf_network import create_app

    with pytest.raises(ConfigError, match=setting):
        create_app("testing", **{setting: value})


@pytest.mark.parametrize("url", ["alumni.raf.edu.rs", "ftp://alumni.raf.edu.rs", "http://", "file:///etc/passwd"])
def test_an_address_that_is_not_http_is_refused(url):
    from raf_network.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="http"):
        PortalClient(url=url, concurrency=2, timeout=1)


def test_a_picture_name_stays_one_path_segment(portal, client):
    portal.pictures["a/../b.jpg"] = b"picture"
    assert client.picture_get("a/../b.jpg", max_bytes=100) == b"picture"
    assert "/images/slike/a%2F..%2Fb.jpg" in portal.requests
