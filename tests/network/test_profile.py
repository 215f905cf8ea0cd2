"""The caller's own profile: biography, LinkedIn, visibility (kept by re-imports), the picture (raw or multipart,
checked, stripped of metadata, served immutable), and the jobs they enter (someone else's is 404)."""
import io
from datetime import date

import pytest
from PIL import Image

from raf_network.network.linkedin import linkedin_handle
from raf_network.network.models import Company, EmploymentHistory, Media, Profile
from tests.contract import shape_errors
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, image_bytes, job_add, network_rows, profile_add, rows


@pytest.mark.parametrize("text, handle", [
    ("jelena-zoric", "jelena-zoric"),
    ("https://www.linkedin.com/in/jelena-zoric/", "jelena-zoric"),
    ("http://rs.linkedin.com/in/jelena-zoric", "jelena-zoric"),
    ("linkedin.com/in/jelena-zoric?originalSubdomain=rs", "jelena-zoric"),
    ("https://m.linkedin.com/in/petar-petrovi%C4%87-42/#about", "petar-petrović-42"),
    ("  ", None), ("", None), (None, None),
])
def test_linkedin_handles_from_handles_and_profile_urls(text, handle):
    assert linkedin_handle(text) == handle


@pytest.mark.parametrize("text", [
    "https://evil.example/in/jelena", "https://linkedin.com.evil.example/in/jelena", "https://www.linkedin.com/company/raf",
    "https://www.linkedin.com/in/", "ftp://linkedin.com/in/jelena", "ab", "jelena zoric", "x" * 101,
    "javascript:alert(1)",
])
def test_what_is_not_a_linkedin_profile_is_refused(text):
    with pytest.raises(ValueError):
        linkedin_handle(text)


def _me(app, user_id, method="get", **kwargs):
    return getattr(app.test_client(), method)("/api/me/profile", headers=bearer(app, user_id), **kwargs)


def test_a_profile_is_created_by_the_first_edit_and_reads_back(app):
    student = user_create(app, role="student", first_name="Iva", last_name="Ivić")
    missing = _me(app, student)
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    assert missing.headers["Cache-Control"] == "private, no-store"
    response = _me(app, student, "patch", json={
        "biography": "  Prvi red\nDrugi red  ", "social_id_1": "https://www.linkedin.com/in/iva-ivic/"})
    assert response.status_code == 200
    profile = response.get_json()
    assert shape_errors(profile, "AlumniUser") == []
    assert profile | {"id": 0} == {
        "id": 0, "full_name": "Iva Ivić", "biography": "Prvi red\nDrugi red", "profile_picture": None,
        "social_id_1": "iva-ivic", "visible": True, "hidden_by_staff": False, "imported": False,
        "edited_fields": ["biography", "social_id_1"]}
    again = _me(app, student)
    assert again.get_json() == profile and again.headers["Cache-Control"] == "private, no-store"


def test_an_imported_profile_keeps_what_its_person_edited(app):
    alumnus = user_create(app, role="alumni")
    profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=77, user_id=alumnus, biography="Sa portala",
                social_id_1="portal-handle")
    body = _me(app, alumnus, "patch", json={"visible": False, "social_id_1": None}).get_json()
    assert (body["imported"], body["visible"], body["social_id_1"], body["biography"]) == (True, False, None,
                                                                                            "Sa portala")
    assert sorted(body["edited_fields"]) == ["social_id_1", "visible"]
    # Hidden: out of the directory, still the author of what they write.
    client = app.test_client()
    assert client.get("/api/alumni-users", headers=bearer(app, alumnus)).get_json() == []
    post = client.post("/api/posts", json={"title": "T", "text": "t"}, headers=bearer(app, alumnus)).get_json()
    assert post["author"]["full_name"] == "Jelena Zorić"


def test_an_empty_linkedin_value_removes_the_handle(app):
    alumnus = user_create(app, role="alumni")
    profile_add(app, user_id=alumnus, social_id_1="stari-handle")
    assert _me(app, alumnus, "patch", json={"social_id_1": ""}).get_json()["social_id_1"] is None
    assert _me(app, alumnus, "patch", json={"social_id_1": "novi-handle"}).get_json()["social_id_1"] == "novi-handle"


@pytest.mark.parametrize("body", [
    {"social_id_1": "https://www.linkedin.com/in/" + "a" * 290}, {"biography": "x" * 2001},
    {"biography": "nul\x00"}, {"biography": None}, {"social_id_1": "https://x.example/in/a"},
    {"social_id_1": "a b"}, {"visible": "yes"}, {"full_name": "Novo Ime"}, {"email": "a@b.c"},
])
def test_bad_profile_edits_are_422_and_write_nothing(app, body):
    alumnus = user_create(app, role="alumni")
    profile_add(app, user_id=alumnus)
    before = network_rows(app)
    response = _me(app, alumnus, "patch", json=body)
    assert response.status_code == 422 and response.get_json()["errors"], response.get_data(as_text=True)
    assert network_rows(app) == before


# ---- pictures ----

def _photo_with_gps():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (44.0, 48.0, 30.0), 3: "E", 4: (20.0, 27.0, 0.0)}
    return image_bytes(size=(1600, 1200), fmt="JPEG", exif=exif)


def _put(app, user_id, **kwargs):
    return app.test_client().put("/api/me/profile/picture", headers=bearer(app, user_id), **kwargs)


def _served(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 200, path
    return response


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_a_picture_upload_is_re_encoded_without_metadata_and_served_immutable(app, how):
    user = user_create(app, role="alumni")
    photo = _photo_with_gps()
    if how == "raw":
        response = _put(app, user, data=photo, content_type="image/jpeg")
    else:
        response = _put(app, user, data={"picture": (io.BytesIO(photo), "ja.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    path = response.get_json()["profile_picture"]
    assert path.startswith("/media/") and path.endswith(".jpg")
    assert response.get_json()["edited_fields"] == ["picture"]
    served = _served(app, path)
    key = path.removeprefix("/media/").removesuffix(".jpg")
    assert served.mimetype == "image/jpeg"
    assert served.headers["ETag"] == f'"{key}"'
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    image = Image.open(io.BytesIO(served.data))
    assert image.size == (512, 384) and dict(image.getexif()) == {}
    assert b"PhoneMaker" not in served.data
    not_modified = app.test_client().get(path, headers={"If-None-Match": f'"{key}"'})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == f'"{key}"'


def test_unknown_keys_and_wrong_extensions_are_404(app):
    user = user_create(app)
    path = _put(app, user, data=image_bytes(), content_type="image/png").get_json()["profile_picture"]
    key = path.removeprefix("/media/").removesuffix(".jpg")
    client = app.test_client()
    for wrong in (f"/media/{key}.png", f"/media/{key}.svg", f"/media/{'0' * 64}.jpg", f"/media/{key[:-1]}.jpg",
                  f"/media/{key}"):
        response = client.get(wrong)
        assert response.status_code == 404, wrong
        assert response.get_json()["code"] == 404


@pytest.mark.parametrize("data, content_type", [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
    (b"GIF89a but not really", "image/gif"),
    (b"", "image/png"),
    (image_bytes(fmt="BMP"), "image/bmp"),
    (image_bytes(fmt="JPEG")[:300], "image/jpeg"),
])
def test_what_is_not_a_picture_is_422_and_nothing_is_stored(app, data, content_type):
    user = user_create(app, role="alumni")
    profile_add(app, user_id=user)
    before = network_rows(app)
    response = _put(app, user, data=data, content_type=content_type)
    assert response.status_code == 422
    assert response.get_json()["code"] == 422 and response.get_json()["errors"]["picture"]
    assert network_rows(app) == before


@pytest.mark.parametrize("kwargs, status", [
    (lambda: {"json": {"picture": "data:image/png;base64,AAAA"}}, 415),
    (lambda: {"data": b"\x89PNG", "content_type": "text/plain"}, 415),
    (lambda: {"data": {}, "content_type": "multipart/form-data"}, 422),
    (lambda: {"data": {"a": (io.BytesIO(b"1"), "a.png"), "b": (io.BytesIO(b"2"), "b.png")},
              "content_type": "multipart/form-data"}, 422),
    (lambda: {"data": {"picture": (io.BytesIO(image_bytes()), "a.png"), "caption": "ja"},
              "content_type": "multipart/form-data"}, 422),
])
def test_a_picture_in_another_form_is_refused_and_nothing_is_stored(app, kwargs, status):
    user = user_create(app)
    before = network_rows(app)
    response = _put(app, user, **kwargs())
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["code"] == status
    assert network_rows(app) == before


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_a_picture_over_max_picture_bytes_is_413(app, how):
    app.config["MAX_PICTURE_BYTES"] = 4096
    user = user_create(app)
    big = image_bytes(size=(300, 300), fmt="PNG") + b"\0" * 5000
    kwargs = ({"data": big, "content_type": "image/png"} if how == "raw" else
              {"data": {"picture": (io.BytesIO(big), "a.png")}, "content_type": "multipart/form-data"})
    response = _put(app, user, **kwargs)
    assert response.status_code == 413 and "MAX_PICTURE_BYTES" in response.get_json()["message"]
    assert rows(app, Media) == 0


def test_a_picture_larger_than_max_content_length_is_accepted_up_to_its_own_limit(app):
    app.config["MAX_CONTENT_LENGTH"] = 1024  # the app-wide body limit does not apply to pictures
    user = user_create(app)
    picture = image_bytes(size=(400, 400), fmt="JPEG", quality=95)
    assert len(picture) > 1024
    assert _put(app, user, data=picture, content_type="image/jpeg").status_code == 200


def test_replacing_or_removing_the_picture_deletes_the_old_one(app):
    user = user_create(app)
    first = _put(app, user, data=image_bytes(colour=(1, 1, 1)), content_type="image/png").get_json()
    second = _put(app, user, data=image_bytes(colour=(9, 9, 9)), content_type="image/png").get_json()
    assert first["profile_picture"] != second["profile_picture"]
    assert app.test_client().get(first["profile_picture"]).status_code == 404
    assert rows(app, Media) == 1
    client = app.test_client()
    assert client.delete("/api/me/profile/picture", headers=bearer(app, user)).status_code == 204
    assert _me(app, user).get_json()["profile_picture"] is None
    assert rows(app, Media) == 0 and client.get(second["profile_picture"]).status_code == 404
    assert client.delete("/api/me/profile/picture", headers=bearer(app, user)).status_code == 204


def test_a_picture_two_people_share_stays_while_one_still_shows_it(app):
    same = image_bytes(colour=(5, 5, 5))
    first, second = user_create(app), user_create(app)
    path = _put(app, first, data=same, content_type="image/png").get_json()["profile_picture"]
    assert _put(app, second, data=same, content_type="image/png").get_json()["profile_picture"] == path
    app.test_client().delete("/api/me/profile/picture", headers=bearer(app, first))
    assert app.test_client().get(path).status_code == 200


# ---- the caller's jobs ----

def _job(app, user_id, method="post", job_id=None, **body):
    url = "/api/me/employment-history" + (f"/{job_id}" if job_id else "")
    return getattr(app.test_client(), method)(url, json=body or None, headers=bearer(app, user_id))


def test_jobs_are_added_by_company_id_or_name_changed_and_removed(app):
    user = user_create(app, role="alumni")
    known = company_add(app, "Severni Kod")
    by_id = _job(app, user, company=known, role="Backend", start_date="2019-10-01", end_date="2021-02-01")
    assert by_id.status_code == 201, by_id.get_data(as_text=True)
    assert shape_errors(by_id.get_json(), "EmploymentHistory") == []
    assert by_id.get_json()["company"] == {"id": known, "name": "Severni Kod"}
    # By name: an existing company of that name (casefolded) is reused, a new name creates one.
    same = _job(app, user, company_name="  severni KOD ", role="Lead", start_date="2021-02-01").get_json()
    new = _job(app, user, company_name="Čarobna Firma", role="CTO", description="Prvi red\ndrugi").get_json()
    assert same["company"]["id"] == known and rows(app, Company) == 2
    assert (new["company"]["name"], new["start_date"], new["end_date"]) == ("Čarobna Firma", None, None)
    me = _me(app, user).get_json()["id"]
    listed = app.test_client().get(f"/api/employment-history?alumni_user={me}", headers=bearer(app, user)).get_json()
    assert [job["role"] for job in listed] == ["Lead", "Backend", "CTO"]

    changed = _job(app, user, "patch", by_id.get_json()["id"], end_date=None, company_name="Čarobna Firma")
    assert changed.status_code == 200
    assert (changed.get_json()["end_date"], changed.get_json()["company"]["name"]) == (None, "Čarobna Firma")
    assert _job(app, user, "delete", new["id"]).status_code == 204
    with app.app_context():
        assert rows(app, EmploymentHistory) == 2
        assert rows(app, EmploymentHistory, EmploymentHistory.source != "self") == 0


@pytest.mark.parametrize("body", [
    {"role": "Dev"},  # no company
    {"company": 1, "company_name": "Dve", "role": "Dev"},
    {"company_name": "Firma"},  # no role
    {"company_name": "Firma", "role": "   "},
    {"company_name": "Firma", "role": "Dev", "start_date": "2020-05-01", "end_date": "2020-04-30"},
    {"company_name": "Firma", "role": "Dev", "start_date": "maj 2020"},
    {"company_name": "", "role": "Dev"},
    {"company": "abc", "role": "Dev"},
    {"company": 424242, "role": "Dev"},  # no such company: 404, as a reference to nothing is everywhere
    {"company_name": "Firma", "role": "Dev", "source": "portal"},
])
def test_bad_jobs_are_refused_and_write_nothing(app, body):
    user = user_create(app, role="alumni")
    profile_add(app, user_id=user)
    company_add(app, "Postojeća")
    before = network_rows(app)
    response = _job(app, user, **body)
    assert response.status_code == (404 if body.get("company") == 424242 else 422), response.get_data(as_text=True)
    assert response.get_json()["errors"]
    assert network_rows(app) == before


def test_someone_elses_job_is_404_and_an_imported_one_409(app):
    owner, stranger = user_create(app, role="alumni"), user_create(app, role="alumni")
    company = company_add(app, "Firma")
    owner_profile = profile_add(app, user_id=owner, portal_id=5)
    own = job_add(app, owner_profile, company, source="self", start=date(2020, 1, 1))
    imported = job_add(app, owner_profile, company, source="portal")
    before = network_rows(app)
    for method in ("patch", "delete"):
        assert _job(app, stranger, method, own, **({"role": "x"} if method == "patch" else {})).status_code == 404
        assert _job(app, owner, method, 999999, **({"role": "x"} if method == "patch" else {})).status_code == 404
        response = _job(app, owner, method, imported, **({"role": "x"} if method == "patch" else {}))
        assert response.status_code == 409 and "portal" in response.get_json()["message"]
    # A change that would end the job before it started is refused with the stored start date in mind.
    response = _job(app, owner, "patch", own, end_date="2019-12-31")
    assert response.status_code == 422 and response.get_json()["errors"]["json"]["end_date"]
    assert network_rows(app) == before


def test_profile_writes_need_a_signed_in_caller(app):
    client = app.test_client()
    job = {"company_name": "Firma", "role": "Dev"}
    for method, url, body in (("get", "/api/me/profile", None), ("patch", "/api/me/profile", {"visible": False}),
                              ("put", "/api/me/profile/picture", None), ("delete", "/api/me/profile/picture", None),
                              ("post", "/api/me/employment-history", job),
                              ("patch", "/api/me/employment-history/1", job),
                              ("delete", "/api/me/employment-history/1", None)):
        assert getattr(client, method)(url, json=body).status_code == 401, (method, url)
    assert rows(app, Profile) == 0
