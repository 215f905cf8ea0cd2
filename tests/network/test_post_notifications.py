"""Notifications of the network, through the real pipeline: a staff post with ``notify`` reaches every other
active account once per device (the ``log`` backend's push_log, and firebase-admin against the FCM stub) with an
inbox entry, never twice; a comment notifies the post's author unless the preference ``comments`` is off."""
from sqlalchemy import select

from raf_network.extensions import db
from raf_network.network.models import Post
from raf_network.notifications.models import Notification, NotificationRecipient, PushLog
from raf_network.notifications.tasks import notification_push
from raf_network.users.models import User
from tests.factories import bearer, user_create
from tests.network.conftest import device_add, network_rows, rows


def _inbox(app, user_id):
    return app.test_client().get("/api/notifications", headers=bearer(app, user_id)).get_json()["items"]


def _pushed_tokens(app):
    with app.app_context():
        return sorted(db.session.scalars(select(PushLog.token)))


def _everyone(app):
    """An admin who posts (with a phone), three other accounts with phones (one has two), a disabled account."""
    admin = user_create(app, role="admin")
    device_add(app, admin, "admin-phone")
    people = {role: user_create(app, role=role) for role in ("student", "alumni", "faculty_administrator")}
    device_add(app, people["student"], "student-phone")
    device_add(app, people["student"], "student-tablet", platform="ios")
    device_add(app, people["alumni"], "alumni-phone")
    device_add(app, people["faculty_administrator"], "staff-phone")
    disabled = user_create(app, role="student", is_active=False)
    device_add(app, disabled, "disabled-phone")
    return admin, people, disabled


def test_a_staff_post_with_notify_pushes_once_per_device_of_every_other_active_account(app):
    admin, people, disabled = _everyone(app)
    response = app.test_client().post("/api/posts", json={"title": "Upis u letnji semestar", "text": "Rok je petak.",
                                                           "notify": True}, headers=bearer(app, admin))
    assert response.status_code == 201
    post_id = response.get_json()["id"]
    assert _pushed_tokens(app) == ["alumni-phone", "staff-phone", "student-phone", "student-tablet"]
    with app.app_context():
        log = db.session.scalars(select(PushLog)).all()
        assert {(entry.title, entry.body) for entry in log} == {("Upis u letnji semestar", "Rok je petak.")}
        assert {entry.data["post_id"] for entry in log} == {str(post_id)}
        notification = db.session.scalar(select(Notification))
        assert (notification.category, notification.source, notification.recipient_count) == (
            "announcement", f"post:{post_id}", 3)
    for user_id in people.values():
        assert [item["title"] for item in _inbox(app, user_id)] == ["Upis u letnji semestar"]
    assert _inbox(app, admin) == []

    # Never twice: the push job run again (a retry, a recovered worker) sends nothing more.
    with app.app_context():
        notification_push(notification.id)
    assert len(_pushed_tokens(app)) == 4


def test_notify_through_firebase_admin_reaches_the_fcm_stub_once_per_device(fcm_app, fcm_stub):
    admin, _people, _disabled = _everyone(fcm_app)
    response = fcm_app.test_client().post("/api/posts", json={"title": "Obaveštenje", "text": "Sutra nema nastave.",
                                                              "notify": True}, headers=bearer(fcm_app, admin))
    assert response.status_code == 201
    assert sorted(fcm_stub.tokens_received()) == ["alumni-phone", "staff-phone", "student-phone", "student-tablet"]
    message = fcm_stub.requests[0]["message"]
    assert message["notification"] == {"title": "Obaveštenje", "body": "Sutra nema nastave."}
    assert message["data"]["type"] == "post" and message["data"]["post_id"] == str(response.get_json()["id"])


def test_notify_is_for_staff_only_and_a_refusal_writes_nothing(app):
    author = user_create(app, role="alumni")
    device_add(app, user_create(app), "someone-phone")
    before = network_rows(app)
    response = app.test_client().post("/api/posts", json={"title": "Svima", "text": "Hej", "notify": True},
                                      headers=bearer(app, author))
    assert response.status_code == 403 and "may notify" in response.get_json()["message"]
    assert network_rows(app) == before
    assert rows(app, Notification) == 0 and _pushed_tokens(app) == []


def test_a_post_without_notify_notifies_nobody(app):
    admin, _people, _disabled = _everyone(app)
    app.test_client().post("/api/posts", json={"title": "Tiho", "text": "Bez obaveštenja"}, headers=bearer(app, admin))
    assert rows(app, Post) == 1 and rows(app, Notification) == 0 and _pushed_tokens(app) == []


def _comment(app, post_id, user_id, text="Odličan tekst!"):
    response = app.test_client().post(f"/api/posts/{post_id}/comments", json={"text": text},
                                      headers=bearer(app, user_id))
    assert response.status_code == 201
    return response.get_json()


def test_a_comment_notifies_the_posts_author_and_not_the_commenter(app):
    author = user_create(app, role="alumni")
    device_add(app, author, "author-phone")
    commenter = user_create(app, role="student", first_name="Pera", last_name="Perić")
    device_add(app, commenter, "commenter-phone")
    post_id = app.test_client().post("/api/posts", json={"title": "Moja objava", "text": "Tekst"},
                                     headers=bearer(app, author)).get_json()["id"]
    comment = _comment(app, post_id, commenter)
    assert _pushed_tokens(app) == ["author-phone"]
    with app.app_context():
        entry = db.session.scalar(select(PushLog))
        assert (entry.title, entry.body) == ("Novi komentar na vašu objavu", "Pera Perić: Odličan tekst!")
        assert entry.data["comment_id"] == str(comment["id"]) and entry.data["type"] == "comment"
    inbox = _inbox(app, author)
    assert [(item["category"], item["data"]["post_id"]) for item in inbox] == [("comment", str(post_id))]
    assert _inbox(app, commenter) == []

    # The author answering on their own post notifies nobody (not themselves).
    _comment(app, post_id, author, "Hvala!")
    assert _pushed_tokens(app) == ["author-phone"] and len(_inbox(app, author)) == 1


def test_the_comments_preference_turns_the_push_off_but_keeps_the_inbox(app):
    author = user_create(app, role="alumni")
    device_add(app, author, "author-phone")
    client = app.test_client()
    preferences = client.patch("/api/me/notification-preferences", json={"comments": False},
                               headers=bearer(app, author))
    assert preferences.status_code == 200 and preferences.get_json()["comments"] is False
    post_id = client.post("/api/posts", json={"title": "Objava", "text": "Tekst"},
                          headers=bearer(app, author)).get_json()["id"]
    _comment(app, post_id, user_create(app))
    assert _pushed_tokens(app) == []
    assert [item["category"] for item in _inbox(app, author)] == ["comment"]
    client.patch("/api/me/notification-preferences", json={"comments": True}, headers=bearer(app, author))
    _comment(app, post_id, user_create(app))
    assert _pushed_tokens(app) == ["author-phone"]


def test_a_comment_on_a_post_of_an_account_less_profile_notifies_nobody(app):
    from tests.network.conftest import post_add, profile_add

    post_id = post_add(app, profile_add(app, portal_id=7))
    _comment(app, post_id, user_create(app))
    assert rows(app, Notification) == 0
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.id.in_(select(NotificationRecipient.user_id)))) is None
