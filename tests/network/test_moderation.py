"""Officers' moderation of the network's people (the console's Mreža): everyone listed, hidden ones included;
hiding has the effect of the person's own ``visible: false`` — out of the directory and the company lists — as a
flag of its own, kept by a re-import, and retires the cached responses only when something changed."""
import pytest

from raf_network.cache.generations import generations_read
from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.network.models import Profile
from raf_network.network.moderation import people_search, profile_hidden_set
from raf_network.network.portal_import import portal_import
from tests.conftest import count_queries
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, job_add, profile_add
from tests.stubs.alumni_portal import AlumniPortalStub, alumnus


def _names(app, **query):
    with app.app_context():
        rows, total = people_search(**query)
        return [profile.full_name for profile, _email in rows], total


def _network_generation(app):
    with app.app_context():
        return generations_read(db.session, ["network"])


def test_everyone_of_the_network_is_found_hidden_ones_included(app):
    profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    profile_add(app, first_name="Marko", last_name="Marić", portal_id=2, visible=False)
    profile_add(app, first_name="Demo", last_name="Primerović", sample=True)
    alumna = user_create(app, role="alumni", email="ana.anic@example.com")
    profile_add(app, first_name="Ana", last_name="Anić", user_id=alumna)
    student = user_create(app, role="student")
    profile_add(app, first_name="Student", last_name="Autor", user_id=student)  # wrote a post: not a member
    assert _names(app) == (["Ana Anić", "Marko Marić", "Demo Primerović", "Jelena Zorić"], 4)
    assert _names(app, visibility="hidden") == (["Marko Marić"], 1)
    assert _names(app, visibility="visible")[1] == 3
    assert _names(app, text="zor") == (["Jelena Zorić"], 1)
    assert _names(app, text="ANA.ANIC@") == (["Ana Anić"], 1)  # by the linked account's e-mail
    assert _names(app, text="%") == ([], 0)  # LIKE wildcards are plain characters
    assert _names(app, page=2, page_size=3) == (["Jelena Zorić"], 4)
    with app.app_context(), count_queries(app) as statements:
        people_search(text="a", page=1, page_size=2)
    assert len(statements) == 2


def test_names_are_found_whatever_their_letters_case(app):
    # SQLite's own lower() folds ASCII only: "Šaponjić" was never found by "šaponjić" (the embedded default).
    profile_add(app, first_name="Đorđe", last_name="Šaponjić", portal_id=7)
    assert _names(app, text="šaponjić") == (["Đorđe Šaponjić"], 1)
    assert _names(app, text="ĐORĐE Š") == (["Đorđe Šaponjić"], 1)


def test_hiding_takes_a_person_out_of_the_directory_and_company_lists_at_once(app):
    jelena = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    profile_add(app, first_name="Marko", last_name="Marković", portal_id=2)
    company = company_add(app, "Nordeus")
    job_add(app, jelena, company)
    client, headers = app.test_client(), bearer(app, user_create(app))

    def listed(path):
        return [person["full_name"] for person in client.get(path, headers=headers).get_json()]

    assert listed("/api/alumni-users") == ["Jelena Zorić", "Marko Marković"]  # now cached
    assert listed(f"/api/alumni-users?company={company}") == ["Jelena Zorić"]
    with app.test_request_context():
        profile, changed = profile_hidden_set(profile_id=jelena, hidden=True)
        assert changed and profile.hidden_by_staff and profile.visible and profile.edited_fields == []
    assert listed("/api/alumni-users") == ["Marko Marković"]
    assert listed(f"/api/alumni-users?company={company}") == []
    assert _names(app, visibility="hidden") == (["Jelena Zorić"], 1)
    with app.test_request_context():
        profile_hidden_set(profile_id=jelena, hidden=False)
    assert listed("/api/alumni-users") == ["Jelena Zorić", "Marko Marković"]


def test_hiding_someone_already_hidden_retires_nothing(app):
    hidden = profile_add(app, portal_id=1, hidden_by_staff=True)
    before = _network_generation(app)
    with app.test_request_context():
        assert profile_hidden_set(profile_id=hidden, hidden=True)[1] is False
        with pytest.raises(NotFound):
            profile_hidden_set(profile_id=999999, hidden=True)
    assert _network_generation(app) == before


def test_a_re_import_keeps_a_person_hidden(embedded_app):
    app = embedded_app
    with AlumniPortalStub(people={7: alumnus("Jelena", "Zorić")}, companies=[]) as portal:
        with app.app_context():
            portal_import(url=portal.url)
            profile = db.session.query(Profile).filter_by(portal_id=7).one()
        with app.test_request_context():
            profile_hidden_set(profile_id=profile.id, hidden=True)
        with app.app_context():
            portal_import(url=portal.url)
            assert db.session.get(Profile, profile.id).hidden_by_staff is True
