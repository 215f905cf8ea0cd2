"""Objave: publish (in the browser, seen at once in the app's GET /api/posts), escaping, validation, moderation,
CSRF refusals; constant queries."""
import requests
from sqlalchemy import func, select

from raf_network.console.models import AuditEntry
from raf_network.extensions import db
from raf_network.network.models import Comment, Post, Profile
from raf_network.notifications.models import Notification, NotificationRecipient
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.factories import bearer, user_create


def _posts(app):
    with app.app_context():
        return db.session.scalars(select(Post).order_by(Post.id)).all()


def _comment_on(app, post_id, *, text="Bravo!"):
    author = user_create(app, role="student")
    with app.app_context():
        profile = Profile(user_id=author, first_name="Pera", last_name="Perić", edited_fields=[])
        db.session.add(profile)
        db.session.flush()
        comment = Comment(post_id=post_id, author_id=profile.id, text=text)
        db.session.add(comment)
        db.session.commit()
        return comment.id


# --------------------------------------------------------------------------------------------------
# In the browser
# --------------------------------------------------------------------------------------------------

def test_publish_a_post_in_the_browser_and_find_it_in_the_app_feed(staff_page):
    page, server = staff_page.page, staff_page.server
    reader = user_create(server.app, role="alumni")
    before = requests.get(server.url + "/api/posts", headers=bearer(server.app, reader), timeout=10)
    assert before.status_code == 200 and before.json() == []  # the feed is cached: it must be retired at once

    page.goto("/console/posts")
    page.get_by_label("Naslov").fill("Upis u zimski semestar")
    page.get_by_label("Tekst").fill("Upis traje do 15. oktobra.\nDokumenta u studentskoj službi.")
    page.get_by_role("button", name="Objavi").click()
    assert "Objava je objavljena." in page.inner_text("main")
    assert page.get_by_role("heading", name="Upis u zimski semestar").is_visible()

    feed = requests.get(server.url + "/api/posts", headers=bearer(server.app, reader), timeout=10).json()
    assert [(post["title"], post["text"]) for post in feed] == [
        ("Upis u zimski semestar", "Upis traje do 15. oktobra.\nDokumenta u studentskoj službi.")]
    assert feed[0]["author"]["full_name"] == "Ana Referentić"


def test_a_form_posted_without_its_token_or_with_another_sessions_is_refused(staff_page, browse):
    """CSRF in the browser: the signed-in browser's cookie goes along, the token does not (or is another
    session's): 400, and no post is written."""
    server = staff_page.server
    staff_page.page.goto("/console/posts")
    without = staff_page.context.request.post(server.url + "/console/posts",
                                              form={"title": "Bez tokena", "text": "x"}, max_redirects=0)
    assert without.status == 400 and "Obrazac je istekao" in without.text()

    user_create(server.app, role="admin", email="drugi@raf.rs")
    other = browse(server)
    from tests.console.conftest import console_link

    other.page.goto(console_link(server.app, "drugi@raf.rs"))
    foreign_token = other.page.locator("form[action='/console/logout'] input[name=csrf_token]").get_attribute("value")
    foreign = staff_page.context.request.post(server.url + "/console/posts", max_redirects=0,
                                              form={"csrf_token": foreign_token, "title": "Tuđi token", "text": "x"})
    assert foreign.status == 400
    assert _posts(server.app) == []
    # The page's own form still works.
    staff_page.page.get_by_label("Naslov").fill("Sa tokenom")
    staff_page.page.get_by_label("Tekst").fill("x")
    staff_page.page.get_by_role("button", name="Objavi").click()
    assert [post.title for post in _posts(server.app)] == ["Sa tokenom"]


def test_a_script_in_a_title_is_shown_as_text_in_the_browser(staff_page):
    page = staff_page.page
    page.goto("/console/posts")
    page.get_by_label("Naslov").fill("<script>document.title='pwned'</script>")
    page.get_by_label("Tekst").fill("<img src=x onerror=alert(1)>")
    page.get_by_role("button", name="Objavi").click()
    assert page.get_by_role("heading", name="<script>document.title='pwned'</script>").is_visible()
    assert "<img src=x onerror=alert(1)>" in page.inner_text("article")
    assert page.title() == "Objave · RAF konzola"
    assert page.locator("article img").count() == 0


# --------------------------------------------------------------------------------------------------
# Test client
# --------------------------------------------------------------------------------------------------

def test_publish_with_a_push_to_everyone(app):
    staff = ConsoleClient(app, role="admin", first_name="Ana", last_name="Anić")
    others = [user_create(app, role=role) for role in ("student", "alumni")]
    response = staff.post("/console/posts", {"title": "Važno", "text": "Sutra nema nastave.", "notify": "y"})
    assert response.status_code == 302 and response.headers["Location"] == "/console/posts"
    assert "Obaveštenje se šalje svim korisnicima" in staff.flashed("/console/posts")
    [post] = _posts(app)
    with app.app_context():
        notification = db.session.scalar(select(Notification).where(Notification.source == f"post:{post.id}"))
        recipients = set(db.session.scalars(select(NotificationRecipient.user_id)
                                            .where(NotificationRecipient.notification_id == notification.id)))
        assert recipients == set(others)  # everyone but the author
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "post_create")).all()
        assert entry.actor_email == staff.email and entry.target == f"post {post.id}" and entry.details["notify"]


def test_a_title_with_script_is_escaped(embedded_app):
    staff = ConsoleClient(embedded_app)
    staff.post("/console/posts", {"title": "<script>alert(1)</script>", "text": "<b>bold</b>"})
    html = page_text(staff.get("/console/posts"))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_invalid_input_is_422_with_the_apis_rules_and_writes_nothing(app):
    staff = ConsoleClient(app)
    blank = staff.post("/console/posts", {"title": "   ", "text": ""})
    assert blank.status_code == 422
    assert page_text(blank).count("Polje ne sme biti prazno.") == 2
    too_long = staff.post("/console/posts", {"title": "x" * 201, "text": "ok"})
    assert too_long.status_code == 422 and "Najviše 200 znakova." in page_text(too_long)
    control = staff.post("/console/posts", {"title": "a\x07b", "text": "ok"})
    assert control.status_code == 422 and "Kontrolni znakovi" in page_text(control)
    assert _posts(app) == []


def test_delete_a_post_and_a_comment_as_moderation(app):
    staff = ConsoleClient(app)
    staff.post("/console/posts", {"title": "Prva", "text": "a"})
    staff.post("/console/posts", {"title": "Druga", "text": "b"})
    first, second = _posts(app)
    comment_id = _comment_on(app, first.id, text="Spam komentar")
    assert "Spam komentar" in page_text(staff.get("/console/posts"))

    assert staff.post(f"/console/posts/{first.id}/comments/{comment_id}/delete").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Comment.id))) == 0
    assert staff.post(f"/console/posts/{second.id}/delete").status_code == 302
    assert [post.title for post in _posts(app)] == ["Prva"]
    assert staff.post("/console/posts/999999/delete").status_code == 404
    assert staff.post(f"/console/posts/{first.id}/comments/999999/delete").status_code == 404
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["comment_delete", "post_delete"]


def test_posts_refused_without_csrf_token_change_nothing(embedded_app):
    staff = ConsoleClient(embedded_app)
    staff.post("/console/posts", {"title": "Ostaje", "text": "a"})
    [post] = _posts(embedded_app)
    for path, data in (("/console/posts", {"title": "Nova", "text": "b"}), (f"/console/posts/{post.id}/delete", {})):
        assert staff.post(path, data, token=False).status_code == 400
        assert staff.post(path, data, token="forged.token.value").status_code == 400
    other = ConsoleClient(embedded_app, role="admin")
    assert staff.post(f"/console/posts/{post.id}/delete", token=other.csrf_token()).status_code == 400
    assert [row.title for row in _posts(embedded_app)] == ["Ostaje"]


def test_the_posts_page_costs_the_same_queries_for_1_or_30_posts_with_comments(embedded_app):
    staff = ConsoleClient(embedded_app)

    def queries():
        staff.get("/console/posts")  # warm: the feed is cached bytes, built on a miss
        with count_queries(embedded_app) as statements:
            assert staff.get("/console/posts").status_code == 200
        return len(statements)

    staff.post("/console/posts", {"title": "Jedna", "text": "a"})
    one = queries()
    for number in range(29):
        staff.post("/console/posts", {"title": f"Objava {number}", "text": "a"})
    for post in _posts(embedded_app)[:10]:
        _comment_on(embedded_app, post.id)
    assert queries() == one
