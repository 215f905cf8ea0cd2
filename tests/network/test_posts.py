"""Posts and comments: who may write, edit and delete what, bad input (4xx, nothing written), and the feed —
order, paging, cached bytes with ETag/304 that a write retires at once (both backends), constant query count."""
import pytest

from raf_network.network.models import Comment, Post, Profile
from tests.conftest import count_queries
from tests.contract import shape_errors
from tests.factories import bearer, user_create
from tests.network.conftest import image_bytes, network_rows, post_add, profile_add, rows


def _feed(app, user_id, **headers):
    response = app.test_client().get("/api/posts", headers={**bearer(app, user_id), **headers})
    assert response.status_code in (200, 304), response.get_data(as_text=True)
    return response


def _post(app, user_id, **body):
    return app.test_client().post("/api/posts", json={"title": "Naslov", "text": "Tekst", **body},
                                  headers=bearer(app, user_id))


@pytest.mark.parametrize("role", ["alumni", "faculty_administrator", "admin"])
def test_alumni_and_staff_post_and_the_post_shows_in_the_feed(app, role):
    author = user_create(app, role=role, first_name="Mila", last_name="Milić")
    response = _post(app, author, title="  Okupljanje  ", text="Petak u 18h.\nRaf06, dođite!")
    assert response.status_code == 201, response.get_data(as_text=True)
    post = response.get_json()
    assert shape_errors(post, "Post") == []
    assert (post["title"], post["text"], post["comments"]) == ("Okupljanje", "Petak u 18h.\nRaf06, dođite!", [])
    assert post["author"]["full_name"] == "Mila Milić" and post["date_created"].endswith("Z")
    assert _feed(app, user_create(app)).get_json() == [post]


def test_students_may_not_post_and_nothing_is_written(app):
    student = user_create(app, role="student")
    before = network_rows(app)
    response = _post(app, student)
    assert response.status_code == 403 and response.get_json()["code"] == 403
    assert network_rows(app) == before  # not even a profile


@pytest.mark.parametrize("body", [
    {"title": ""}, {"title": "   "}, {"title": "x" * 201}, {"title": "dva\nreda"}, {"title": "zvono\x07"},
    {"text": ""}, {"text": "x" * 10001}, {"text": "nul\x00"}, {"notify": "da"}, {"pinned": True},
    {"title": 5}, {"text": None},
])
def test_bad_posts_are_422_in_the_error_format_and_write_nothing(app, body):
    author = user_create(app, role="alumni")
    before = network_rows(app)
    response = _post(app, author, **body)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()
    assert error["code"] == 422 and error["message"] and error["errors"]
    assert network_rows(app) == before


def test_a_missing_or_non_json_body_is_refused(app):
    author = user_create(app, role="alumni")
    client, headers = app.test_client(), bearer(app, author)
    assert client.post("/api/posts", json={"title": "Samo naslov"}, headers=headers).status_code == 422
    assert client.post("/api/posts", data="title=x", content_type="text/plain", headers=headers).status_code in (
        400, 415, 422)
    assert rows(app, Post) == 0


def test_the_feed_is_newest_first_with_comments_oldest_first(app):
    ana = profile_add(app, first_name="Ana", last_name="A", portal_id=1)
    bora = profile_add(app, first_name="Bora", last_name="B", portal_id=2)
    older = post_add(app, ana, title="Starija", comments=[(bora, "prvi"), (ana, "drugi"), (bora, "treći")])
    newer = post_add(app, bora, title="Novija")
    feed = _feed(app, user_create(app)).get_json()
    assert [post["id"] for post in feed] == [newer, older]
    assert [comment["text"] for comment in feed[1]["comments"]] == ["prvi", "drugi", "treći"]
    assert [comment["author"]["full_name"] for comment in feed[1]["comments"]] == ["Bora B", "Ana A", "Bora B"]
    assert [error for post in feed for error in shape_errors(post, "Post")] == []


def test_the_feed_holds_feed_limit_posts_and_pages_with_before(app):
    app.config["FEED_LIMIT"] = 3
    author = profile_add(app, portal_id=1)
    ids = [post_add(app, author, title=f"Objava {n}") for n in range(7)]
    viewer = user_create(app)
    client, headers = app.test_client(), bearer(app, viewer)
    first = [post["id"] for post in client.get("/api/posts", headers=headers).get_json()]
    assert first == ids[::-1][:3]
    second = [post["id"] for post in client.get(f"/api/posts?before={first[-1]}", headers=headers).get_json()]
    assert second == ids[::-1][3:6]
    assert [p["id"] for p in client.get(f"/api/posts?before={ids[0]}", headers=headers).get_json()] == []


def test_a_write_is_visible_on_the_next_read_and_retires_the_etag(app):
    author = user_create(app, role="alumni", first_name="Vesna", last_name="V")
    viewer = user_create(app)
    client = app.test_client()
    first = _feed(app, viewer)
    assert first.get_json() == []
    assert _feed(app, viewer, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert first.headers["Cache-Control"] == "private, max-age=0, must-revalidate"

    post_id = _post(app, author, title="Prva").get_json()["id"]
    second = _feed(app, viewer, **{"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and [p["title"] for p in second.get_json()] == ["Prva"]

    client.post(f"/api/posts/{post_id}/comments", json={"text": "Super"}, headers=bearer(app, viewer))
    assert [c["text"] for c in _feed(app, viewer).get_json()[0]["comments"]] == ["Super"]

    client.patch(f"/api/posts/{post_id}", json={"title": "Izmenjena"}, headers=bearer(app, author))
    assert _feed(app, viewer).get_json()[0]["title"] == "Izmenjena"

    # The author's name and picture are part of every post: changing them is a write to the feed too.
    client.patch("/api/me", json={"first_name": "Vera"}, headers=bearer(app, author))
    assert _feed(app, viewer).get_json()[0]["author"]["full_name"] == "Vera V"
    client.put("/api/me/profile/picture", data=image_bytes(), content_type="image/png", headers=bearer(app, author))
    assert _feed(app, viewer).get_json()[0]["author"]["profile_picture"].startswith("/media/")
    client.patch("/api/me/profile", json={"biography": "Nova biografija"}, headers=bearer(app, author))
    assert _feed(app, viewer).get_json()[0]["author"]["biography"] == "Nova biografija"

    client.delete(f"/api/posts/{post_id}", headers=bearer(app, author))
    assert _feed(app, viewer).get_json() == []


def test_the_feed_costs_the_same_queries_whatever_the_posts_comments_and_authors(app):
    viewer = user_create(app)
    headers = bearer(app, viewer)
    client = app.test_client()
    assert client.get("/api/posts", headers=headers).status_code == 200  # the caller's session, verified once
    counts = []
    for size in (1, 8):
        authors = [profile_add(app, first_name=f"Autor{size}-{n}", portal_id=size * 100 + n,
                               picture=image_bytes(colour=(size, n, 1))) for n in range(size)]
        for n in range(size):
            post_add(app, authors[n], comments=[(authors[(n + k) % size], f"k{k}") for k in range(size)])
        with count_queries(app) as statements:
            body = client.get("/api/posts", headers=headers).get_json()
        assert len(body) == {1: 1, 8: 9}[size]
        counts.append(len([statement for statement in statements if "cache_generation" not in statement]))
        with count_queries(app) as cached:
            assert client.get("/api/posts", headers=headers).status_code == 200
        # Served from the cache, the session known to this process: no query (without Redis, the cache
        # generations are read from the database, where every local process's changes are).
        assert [statement for statement in cached if "cache_generation" not in statement] == []
    # The posts with their authors, the comments with theirs.
    assert counts[0] == counts[1] == 2


def test_only_the_author_edits_a_post(app):
    author = user_create(app, role="alumni")
    post_id = _post(app, author, title="Moja").get_json()["id"]
    client = app.test_client()
    for role in ("alumni", "student", "faculty_administrator", "admin"):
        response = client.patch(f"/api/posts/{post_id}", json={"title": "Tuđa"}, headers=bearer(app, user_create(
            app, role=role)))
        assert response.status_code == 403 and response.get_json()["code"] == 403
    response = client.patch(f"/api/posts/{post_id}", json={"text": "Nov tekst"}, headers=bearer(app, author))
    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["text"]) == ("Moja", "Nov tekst")
    assert client.patch("/api/posts/424242", json={"title": "x"}, headers=bearer(app, author)).status_code == 404
    assert client.patch(f"/api/posts/{post_id}", json={"title": ""}, headers=bearer(app, author)).status_code == 422
    assert client.patch(f"/api/posts/{post_id}", json={"notify": True},
                        headers=bearer(app, author)).status_code == 422


def test_the_author_or_staff_delete_a_post_with_its_comments(app):
    author = user_create(app, role="alumni")
    other = user_create(app, role="alumni")
    client = app.test_client()
    post_id = _post(app, author).get_json()["id"]
    client.post(f"/api/posts/{post_id}/comments", json={"text": "k"}, headers=bearer(app, other))
    assert client.delete(f"/api/posts/{post_id}", headers=bearer(app, other)).status_code == 403
    assert client.delete(f"/api/posts/{post_id}", headers=bearer(app, author)).status_code == 204
    assert rows(app, Post) == 0 and rows(app, Comment) == 0
    assert client.delete(f"/api/posts/{post_id}", headers=bearer(app, author)).status_code == 404
    for role in ("faculty_administrator", "admin"):
        post_id = _post(app, author).get_json()["id"]
        assert client.delete(f"/api/posts/{post_id}", headers=bearer(app, user_create(app, role=role))).status_code \
            == 204
    assert rows(app, Post) == 0


def test_anyone_signed_in_comments_and_a_student_author_is_not_listed(app):
    author = user_create(app, role="alumni", first_name="Autor", last_name="A")
    student = user_create(app, role="student", first_name="Sima", last_name="Student")
    post_id = _post(app, author).get_json()["id"]
    response = app.test_client().post(f"/api/posts/{post_id}/comments", json={"text": "  Pitanje?\nDa.  "},
                                      headers=bearer(app, student))
    assert response.status_code == 201
    comment = response.get_json()
    assert shape_errors(comment, "PostComment") == []
    assert comment["text"] == "Pitanje?\nDa." and comment["author"]["full_name"] == "Sima Student"
    assert _feed(app, student).get_json()[0]["comments"] == [comment]
    listed = app.test_client().get("/api/alumni-users", headers=bearer(app, student)).get_json()
    assert [person["full_name"] for person in listed] == ["Autor A"]  # the student wrote, but is no alumnus


@pytest.mark.parametrize("body", [{"text": ""}, {"text": " \n "}, {"text": "x" * 2001}, {"text": "\x1b[31m"},
                                  {}, {"text": "ok", "post": 1}])
def test_bad_comments_are_422_and_write_nothing(app, body):
    author = profile_add(app, portal_id=1)
    post_id = post_add(app, author)
    before = network_rows(app)
    response = app.test_client().post(f"/api/posts/{post_id}/comments", json=body,
                                      headers=bearer(app, user_create(app)))
    assert response.status_code == 422 and response.get_json()["errors"]
    assert network_rows(app) == before


def test_a_comment_on_an_unknown_post_is_404_and_writes_nothing(app):
    before = network_rows(app)
    response = app.test_client().post("/api/posts/999/comments", json={"text": "Hej"},
                                      headers=bearer(app, user_create(app)))
    assert response.status_code == 404 and response.get_json()["code"] == 404
    assert network_rows(app) == before


def test_the_author_or_staff_delete_a_comment(app):
    post_author = user_create(app, role="alumni")
    commenter = user_create(app, role="student")
    client = app.test_client()
    post_id = _post(app, post_author).get_json()["id"]
    other_post = _post(app, post_author).get_json()["id"]

    def comment():
        return client.post(f"/api/posts/{post_id}/comments", json={"text": "k"},
                           headers=bearer(app, commenter)).get_json()["id"]

    first = comment()
    # Not the comment's author (the post's author neither): 403; the wrong post or an unknown id: 404.
    for stranger in (post_author, user_create(app, role="student")):
        assert client.delete(f"/api/posts/{post_id}/comments/{first}", headers=bearer(app, stranger)).status_code \
            == 403
    assert client.delete(f"/api/posts/{other_post}/comments/{first}", headers=bearer(app, commenter)).status_code \
        == 404
    assert client.delete(f"/api/posts/777/comments/{first}", headers=bearer(app, commenter)).status_code == 404
    assert client.delete(f"/api/posts/{post_id}/comments/{first}", headers=bearer(app, commenter)).status_code \
        == 204
    assert client.delete(f"/api/posts/{post_id}/comments/{first}", headers=bearer(app, commenter)).status_code \
        == 404
    second = comment()
    staff = user_create(app, role="faculty_administrator")
    assert client.delete(f"/api/posts/{post_id}/comments/{second}", headers=bearer(app, staff)).status_code == 204
    assert rows(app, Comment) == 0


def test_writing_gives_staff_and_students_a_profile_once(app):
    staff = user_create(app, role="faculty_administrator", first_name="", last_name="")
    client = app.test_client()
    first = _post(app, staff).get_json()
    _post(app, staff)
    client.post(f"/api/posts/{first['id']}/comments", json={"text": "još"}, headers=bearer(app, staff))
    assert rows(app, Profile) == 1
    assert first["author"]["full_name"] == f"RAF korisnik #{first['author']['id']}"
