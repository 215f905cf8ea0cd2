"""Profiles follow their accounts: an alumnus's profile from the first (real, Google-verified) sign-in, names kept
current, what deleting the account does to the profile and what it wrote, and ``flask network link``."""
from datetime import date

from sqlalchemy import select

from raf_network.extensions import db
from raf_network.network.models import Comment, EmploymentHistory, Media, Post, Profile
from raf_network.network.moderation import profile_hidden_set
from tests.factories import bearer, user_create
from tests.network.conftest import (
    company_add,
    image_bytes,
    job_add,
    network_rows,
    post_add,
    profile_add,
    rows,
    sign_in,
    study_add,
)


def _directory(app, user_id):
    return [p["full_name"] for p in app.test_client().get("/api/alumni-users", headers=bearer(app, user_id)).get_json()]


def test_an_alumnus_is_in_the_directory_from_the_first_sign_in(signin_app, google):
    viewer = user_create(signin_app)
    assert _directory(signin_app, viewer) == []  # cached empty: the sign-in must retire it
    body = sign_in(signin_app, google.id_token(email="jelena.zoric@gmail.com", given_name="Jelena",
                                               family_name="Zorić")).get_json()
    assert body["user"]["role"] == "alumni"
    assert _directory(signin_app, viewer) == ["Jelena Zorić"]
    sign_in(signin_app, google.id_token(email="jelena.zoric@gmail.com", given_name="Jelena", family_name="Marić"))
    assert _directory(signin_app, viewer) == ["Jelena Marić"]  # the account's new name, on the same profile
    assert rows(signin_app, Profile) == 1


def test_students_and_staff_get_no_profile_by_signing_in(signin_app, google):
    for email in ("mmarkovic1021rn@raf.rs", "pprofesor@raf.rs"):
        assert sign_in(signin_app, google.id_token(email=email)).status_code == 200
    assert rows(signin_app, Profile) == 0


def test_an_imported_profile_linked_to_an_account_keeps_the_portals_name(signin_app, google):
    account = user_create(signin_app, role="alumni", email="j@gmail.com")
    profile_add(signin_app, first_name="Jelena", last_name="Zorić", portal_id=9, user_id=account)
    sign_in(signin_app, google.id_token(email="j@gmail.com", given_name="J", family_name="Z"))
    assert _directory(signin_app, account) == ["Jelena Zorić"]


def test_deleting_an_account_deletes_its_own_profile_with_what_it_wrote(app):
    writer = user_create(app, role="alumni")
    other = user_create(app, role="alumni")
    client = app.test_client()
    post_id = client.post("/api/posts", json={"title": "Moja", "text": "t"},
                          headers=bearer(app, writer)).get_json()["id"]
    others_post = client.post("/api/posts", json={"title": "Tuđa", "text": "t"},
                              headers=bearer(app, other)).get_json()["id"]
    client.post(f"/api/posts/{post_id}/comments", json={"text": "na mojoj"}, headers=bearer(app, other))
    client.post(f"/api/posts/{others_post}/comments", json={"text": "na tuđoj"}, headers=bearer(app, writer))
    client.put("/api/me/profile/picture", data=image_bytes(), content_type="image/png", headers=bearer(app, writer))
    client.post("/api/me/employment-history", json={"company_name": "Firma", "role": "Dev"},
                headers=bearer(app, writer))
    viewer = user_create(app)
    assert len(client.get("/api/posts", headers=bearer(app, viewer)).get_json()) == 2

    assert client.delete("/api/me", headers=bearer(app, writer)).status_code == 204
    with app.app_context():
        assert db.session.scalars(select(Post.title)).all() == ["Tuđa"]
        assert db.session.scalars(select(Comment.text)).all() == []  # also the other's comment on the deleted post
        assert rows(app, Profile) == 1 and rows(app, Media) == 0 and rows(app, EmploymentHistory) == 0
    feed = client.get("/api/posts", headers=bearer(app, viewer)).get_json()
    assert [(post["title"], post["comments"]) for post in feed] == [("Tuđa", [])]


def test_deleting_an_account_unlinks_its_imported_profile_and_keeps_it(app):
    account = user_create(app, role="alumni")
    company = company_add(app, "Firma")
    profile = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=9, user_id=account,
                          picture=image_bytes())
    job_add(app, profile, company, source="portal", start=date(2018, 1, 1))
    study_add(app, profile)
    client = app.test_client()
    client.patch("/api/me/profile", json={"visible": False}, headers=bearer(app, account))
    client.post("/api/posts", json={"title": "Moja", "text": "t"}, headers=bearer(app, account))
    client.post("/api/me/employment-history", json={"company": company, "role": "Sam uneo"},
                headers=bearer(app, account))

    assert client.delete("/api/me", headers=bearer(app, account)).status_code == 204
    with app.app_context():
        kept = db.session.get(Profile, profile)
        assert (kept.user_id, kept.portal_id, kept.full_name, kept.visible) == (None, 9, "Jelena Zorić", False)
        assert kept.picture_key is not None and "visible" in kept.edited_fields
        assert db.session.scalars(select(EmploymentHistory.source)).all() == ["portal"]
    assert rows(app, Post) == 0
    viewer = user_create(app)
    assert client.get(f"/api/academic-history?alumni_user={profile}", headers=bearer(app, viewer)).get_json() != []


# ---- flask network link ----

def test_link_attaches_an_account_to_an_imported_profile(app):
    runner = app.test_cli_runner()
    account = user_create(app, role="alumni", email="jelena@gmail.com")
    imported = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=12)
    result = runner.invoke(args=["network", "link", "Jelena@Gmail.com", str(imported)])
    assert result.exit_code == 0, result.output
    assert f"linked jelena@gmail.com to profile {imported} (Jelena Zorić)" in result.output
    me = app.test_client().get("/api/me/profile", headers=bearer(app, account)).get_json()
    assert (me["id"], me["imported"]) == (imported, True)
    again = runner.invoke(args=["network", "link", "jelena@gmail.com", str(imported)])
    assert again.exit_code == 0  # already linked: nothing to do


def test_link_moves_what_the_accounts_own_profile_wrote_and_deletes_it(app):
    account = user_create(app, role="alumni", email="jelena@gmail.com", first_name="Jeca", last_name="Z")
    other = profile_add(app, first_name="Drugi", portal_id=99)
    imported = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=12, biography="Sa portala")
    client = app.test_client()
    headers = bearer(app, account)
    post_id = client.post("/api/posts", json={"title": "Pre povezivanja", "text": "t"},
                          headers=headers).get_json()["id"]
    own_profile = client.get("/api/me/profile", headers=headers).get_json()["id"]
    other_post = post_add(app, other)
    client.post(f"/api/posts/{other_post}/comments", json={"text": "komentar"}, headers=headers)
    client.patch("/api/me/profile", json={"biography": "Moja biografija"}, headers=headers)
    client.post("/api/me/employment-history", json={"company_name": "Firma", "role": "Dev"}, headers=headers)

    result = app.test_cli_runner().invoke(args=["network", "link", "jelena@gmail.com", str(imported)])
    assert result.exit_code == 0, result.output
    assert "moved 1 post(s), 1 comment(s), 1 job(s)" in result.output
    with app.app_context():
        assert db.session.get(Profile, own_profile) is None
        assert db.session.get(Post, post_id).author_id == imported
        profile = db.session.get(Profile, imported)
        assert (profile.biography, profile.user_id) == ("Moja biografija", account)
        assert "biography" in profile.edited_fields
    feed = client.get("/api/posts", headers=headers).get_json()
    assert {post["author"]["full_name"] for post in feed} == {"Jelena Zorić", "Drugi Anić"}
    assert feed[0]["comments"][0]["author"]["id"] == imported


def test_link_keeps_an_officers_hiding_of_the_accounts_own_profile(app):
    account = user_create(app, role="alumni", email="jelena@gmail.com")
    headers = bearer(app, account)
    client = app.test_client()
    own_profile = client.patch("/api/me/profile", json={"biography": "Moja"}, headers=headers).get_json()["id"]
    imported = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=12)
    with app.test_request_context():
        profile_hidden_set(profile_id=own_profile, hidden=True)
    result = app.test_cli_runner().invoke(args=["network", "link", "jelena@gmail.com", str(imported)])
    assert result.exit_code == 0, result.output
    me = client.get("/api/me/profile", headers=headers).get_json()
    assert (me["id"], me["hidden_by_staff"], me["visible"]) == (imported, True, True)  # the owner sees why
    assert _directory(app, user_create(app)) == []


def test_link_refuses_with_a_clear_message_and_writes_nothing(app):
    runner = app.test_cli_runner()
    user_create(app, role="alumni", email="jelena@gmail.com")
    taken_by = user_create(app, role="alumni", email="neko@gmail.com")
    imported = profile_add(app, portal_id=12)
    taken = profile_add(app, portal_id=13, user_id=taken_by)
    own = profile_add(app, user_id=user_create(app, role="alumni", email="sam@gmail.com"))
    linked_elsewhere = user_create(app, role="alumni", email="vec@gmail.com")
    profile_add(app, portal_id=14, user_id=linked_elsewhere)
    before = network_rows(app)
    for args, message in (
        (["nepoznat@gmail.com", str(imported)], "no account"),
        (["jelena@gmail.com", "4242"], "no network profile 4242"),
        (["jelena@gmail.com", str(own)], "not imported"),
        (["jelena@gmail.com", str(taken)], "already linked to another account"),
        (["vec@gmail.com", str(imported)], "already linked to imported profile"),
    ):
        result = runner.invoke(args=["network", "link", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert network_rows(app) == before
