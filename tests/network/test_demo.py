"""The demo network of ``flask seed``: every tab of the app has something to show (in the contract's shapes), it is
marked as sample data, running it again changes nothing, and it is never written into a network that has data."""
from raf_network.network.models import Comment, Company, Media, Post, Profile
from tests.contract import shape_errors
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, network_rows, rows


def _seed(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return result.output


def test_flask_seed_writes_a_demo_network_every_tab_can_show(app):
    output = _seed(app)
    assert "demo network written (sample data): 6 people, 5 companies" in output
    client, headers = app.test_client(), bearer(app, user_create(app))
    people = client.get("/api/alumni-users", headers=headers).get_json()
    assert len(people) == 6
    assert all(person["biography"].startswith("Primer (demo): ") for person in people)
    assert all(person["profile_picture"].startswith("/media/") for person in people)
    assert client.get(people[0]["profile_picture"]).mimetype == "image/jpeg"
    companies = client.get("/api/companies", headers=headers).get_json()
    assert all(company["name"].endswith("(demo)") for company in companies)
    checked = {"AlumniUser": people, "Company": companies,
               "Post": client.get("/api/posts", headers=headers).get_json()}
    assert len(checked["Post"]) == 4 and all(post["comments"] for post in checked["Post"])
    for person in people:
        checked.setdefault("AcademicHistory", []).extend(client.get(
            f"/api/academic-history?alumni_user={person['id']}", headers=headers).get_json())
        checked.setdefault("EmploymentHistory", []).extend(client.get(
            f"/api/employment-history?alumni_user={person['id']}", headers=headers).get_json())
        assert client.get(f"/api/alumni-users?company={companies[0]['id']}", headers=headers).status_code == 200
    assert len(checked["AcademicHistory"]) >= 6 and len(checked["EmploymentHistory"]) >= 6
    assert any(history["thesis"] for history in checked["AcademicHistory"])
    for shape, items in checked.items():
        assert [error for item in items for error in shape_errors(item, shape)] == [], shape
    # A company page lists its people.
    assert any(client.get(f"/api/alumni-users?company={company['id']}", headers=headers).get_json()
               for company in companies)


def test_seeding_again_changes_nothing(app):
    _seed(app)
    before = network_rows(app)
    output = _seed(app)
    assert "not empty, demo network not written" in output
    assert network_rows(app) == before


def test_the_demo_network_never_mixes_into_a_real_one(app):
    company_add(app, "Prava Firma", portal_id=1)  # e.g. what a portal import wrote
    _seed(app)
    assert rows(app, Profile) == rows(app, Post) == rows(app, Comment) == rows(app, Media) == 0
    assert rows(app, Company) == 1
