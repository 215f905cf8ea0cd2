"""Korisnici: search, role changes (to admin only by an admin), disable / enable — each ending the person's
console sessions; constant queries."""
import pytest
from sqlalchemy import select

from raf_network.console.models import AuditEntry, ConsoleSession
from raf_network.extensions import db
from raf_network.users.models import User
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.factories import bearer, user_create


def _user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_search_by_address_or_name_and_by_role(app):
    staff = ConsoleClient(app)
    user_create(app, role="student", email="mmarkovic1021rn@raf.rs", first_name="Marko", last_name="Marković")
    user_create(app, role="alumni", email="jelena@example.com", first_name="Jelena", last_name="Zorić")
    user_create(app, role="student", email="p_100%@raf.rs", first_name="Pera", last_name="Perić")
    html = page_text(staff.get("/console/users?q=markovi"))
    assert "mmarkovic1021rn@raf.rs" in html and "jelena@example.com" not in html
    assert "jelena@example.com" in page_text(staff.get("/console/users?q=jelena zor"))
    by_role = page_text(staff.get("/console/users?role=alumni"))
    assert "jelena@example.com" in by_role and "mmarkovic1021rn@raf.rs" not in by_role
    literal = page_text(staff.get("/console/users?q=_100%25"))  # LIKE wildcards are searched for literally
    assert "p_100%@raf.rs" in literal and "mmarkovic1021rn@raf.rs" not in literal
    assert staff.get("/console/users?role=king").status_code == 422
    assert staff.get("/console/users?unknown=1").status_code == 422


def test_a_role_change_ends_the_persons_console_sessions(app):
    admin = ConsoleClient(app, role="admin")
    officer = ConsoleClient(app, role="faculty_administrator")
    assert officer.get("/console/").status_code == 200
    response = admin.post("/console/users/role?q=x&page=1", {"email": officer.email, "role": "student"})
    assert response.status_code == 302 and response.headers["Location"] == "/console/users?q=x&page=1"
    assert _user(app, officer.email).role == "student"
    assert officer.get("/console/").headers["Location"] == "/console/login"
    with app.app_context():
        assert db.session.scalar(select(ConsoleSession.revoked_at).where(
            ConsoleSession.user_id == officer.user_id)) is not None
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user_role_set")).all()
        assert (entry.actor_email, entry.target, entry.details) == (
            admin.email, officer.email, {"from": "faculty_administrator", "to": "student"})


@pytest.mark.parametrize("target_role, new_role", [("student", "admin"), ("admin", "student")])
def test_only_an_admin_grants_admin_or_changes_an_admin(embedded_app, target_role, new_role):
    officer = ConsoleClient(embedded_app, role="faculty_administrator")
    target = user_create(embedded_app, role=target_role, email="target@raf.rs")
    response = officer.post("/console/users/role", {"email": "target@raf.rs", "role": new_role})
    assert response.status_code == 403
    assert "Samo administrator" in page_text(response)
    with embedded_app.app_context():
        assert db.session.get(User, target).role == target_role
    admin = ConsoleClient(embedded_app, role="admin")
    assert admin.post("/console/users/role", {"email": "target@raf.rs", "role": new_role}).status_code == 302
    assert _user(embedded_app, "target@raf.rs").role == new_role


def test_the_admin_role_is_offered_to_admins_only(embedded_app):
    user_create(embedded_app, role="student", email="s@raf.rs")
    def role_form(role):
        html = page_text(ConsoleClient(embedded_app, role=role).get("/console/users?q=s@raf"))
        return html.split('action="/console/users/role')[1].split("</form>")[0]

    assert '<option value="admin"' not in role_form("faculty_administrator")
    assert '<option value="admin"' in role_form("admin")


def test_nobody_changes_their_own_account(embedded_app):
    admin = ConsoleClient(embedded_app, role="admin")
    assert admin.post("/console/users/role", {"email": admin.email, "role": "student"}).status_code == 403
    assert admin.post("/console/users/disable", {"email": admin.email}).status_code == 403
    assert _user(embedded_app, admin.email).role == "admin" and _user(embedded_app, admin.email).is_active


def test_disable_ends_every_session_and_enable_lets_them_sign_in_again(app):
    admin = ConsoleClient(app, role="admin")
    officer = ConsoleClient(app, role="faculty_administrator")
    api_headers = bearer(app, officer.user_id)
    assert app.test_client().get("/api/me", headers=api_headers).status_code == 200
    assert admin.post("/console/users/disable", {"email": officer.email}).status_code == 302
    assert not _user(app, officer.email).is_active
    assert officer.get("/console/").headers["Location"] == "/console/login"
    assert app.test_client().get("/api/me", headers=api_headers).status_code == 401
    assert "onemogućen" in page_text(admin.get(f"/console/users?q={officer.email}"))
    assert admin.post("/console/users/enable", {"email": officer.email}).status_code == 302
    assert _user(app, officer.email).is_active
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["user_disable", "user_enable"]


def test_unknown_or_invalid_changes_are_refused_and_change_nothing(embedded_app):
    admin = ConsoleClient(embedded_app, role="admin")
    user_create(embedded_app, role="student", email="s@raf.rs")
    assert admin.post("/console/users/role", {"email": "nobody@raf.rs", "role": "alumni"}).status_code == 404
    bad_role = admin.post("/console/users/role", {"email": "s@raf.rs", "role": "king"})
    assert bad_role.status_code == 302 and "Uloga nije promenjena" in admin.flashed("/console/users")
    assert admin.post("/console/users/disable", {"email": "s@raf.rs"}, token=False).status_code == 400
    student = _user(embedded_app, "s@raf.rs")
    assert student.role == "student" and student.is_active


def test_the_users_page_costs_the_same_queries_for_3_or_60_accounts(embedded_app):
    admin = ConsoleClient(embedded_app, role="admin")

    def queries():
        with count_queries(embedded_app) as statements:
            assert admin.get("/console/users").status_code == 200
        return len(statements)

    user_create(embedded_app, role="student")
    few = queries()
    for number in range(60):
        user_create(embedded_app, role=("student", "alumni")[number % 2])
    assert queries() == few
