"""The operator's `flask users …` commands, through Flask's CLI runner."""
from datetime import datetime, timedelta, timezone

import pytest

from raf_network.extensions import db
from raf_network.users.models import Device, User
from tests.factories import bearer, user_create
from tests.notifications.conftest import count, device_add


def _user(app, email):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one()


def test_create_sets_an_admin_chosen_role(runner, app):
    result = runner.invoke(args=["users", "create", "Boss@RAF.rs", "--role", "admin", "--first-name", "Ana",
                                 "--last-name", "Anić"])
    assert result.exit_code == 0, result.output
    user = _user(app, "boss@raf.rs")
    assert (user.role, user.role_set_by_admin, user.first_name, user.last_name) == ("admin", True, "Ana", "Anić")


def test_create_derives_the_student_number_for_students(runner, app):
    assert runner.invoke(args=["users", "create", "mmarkovic1021rn@raf.rs", "--role", "student"]).exit_code == 0
    assert _user(app, "mmarkovic1021rn@raf.rs").student_number == "RN10/21"


@pytest.mark.parametrize("args", [
    ["users", "create", "x@raf.rs", "--role", "pope"],
    ["users", "create", "not-an-address", "--role", "student"],
    ["users", "create", "x@raf.rs"],
])
def test_create_rejects_bad_input(runner, app, args):
    assert runner.invoke(args=args).exit_code != 0
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_create_refuses_a_duplicate(runner, app):
    user_create(app, email="dup@raf.rs")
    result = runner.invoke(args=["users", "create", "dup@raf.rs", "--role", "admin"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_token_prints_only_a_working_access_token(runner, app):
    user_id = user_create(app, email="ops@raf.rs")
    result = runner.invoke(args=["users", "token", "ops@raf.rs"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert result.output == token + "\n" and token.count(".") == 2
    me = app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["id"] == user_id


def test_token_for_an_unknown_user_fails(runner):
    result = runner.invoke(args=["users", "token", "ghost@raf.rs"])
    assert result.exit_code == 1 and "ghost@raf.rs" in result.output


def test_set_role_applies_at_once_and_survives_sign_in(runner, app):
    user_id = user_create(app, email="pprofesor@raf.rs", role="faculty_administrator")
    headers = bearer(app, user_id)
    assert runner.invoke(args=["users", "set-role", "pprofesor@raf.rs", "admin"]).exit_code == 0
    user = _user(app, "pprofesor@raf.rs")
    assert user.role == "admin" and user.role_set_by_admin
    assert app.test_client().get("/api/me", headers=headers).get_json()["role"] == "admin"
    assert runner.invoke(args=["users", "set-role", "pprofesor@raf.rs", "emperor"]).exit_code != 0


def test_disable_revokes_sessions_and_enable_allows_new_ones(runner, app):
    user_id = user_create(app, email="gone@raf.rs")
    headers = bearer(app, user_id)
    result = runner.invoke(args=["users", "disable", "gone@raf.rs"])
    assert result.exit_code == 0
    assert app.test_client().get("/api/me", headers=headers).status_code == 401
    assert runner.invoke(args=["users", "token", "gone@raf.rs"]).exit_code == 1
    assert runner.invoke(args=["users", "enable", "gone@raf.rs"]).exit_code == 0
    # Old sessions stay revoked; a new one works.
    assert app.test_client().get("/api/me", headers=headers).status_code == 401
    assert app.test_client().get("/api/me", headers=bearer(app, user_id)).status_code == 200


def test_list_shows_every_account(runner, app):
    user_create(app, email="a@raf.rs", role="student")
    user_create(app, email="b@example.com", role="alumni", is_active=False)
    lines = runner.invoke(args=["users", "list"]).output.strip().splitlines()
    assert [line.split("\t")[1:3] for line in lines] == [["a@raf.rs", "student"], ["b@example.com", "alumni"]]
    assert lines[1].endswith("disabled")


def test_prune_devices_removes_devices_not_seen_for_the_configured_days(app):
    student = user_create(app)
    now = datetime.now(timezone.utc)
    device_add(app, student, "stale", last_seen_at=now - timedelta(days=61))
    device_add(app, student, "fresh", last_seen_at=now - timedelta(days=59))
    result = app.test_cli_runner().invoke(args=["users", "prune-devices"])
    assert result.exit_code == 0 and "removed 1" in result.output
    with app.app_context():
        assert [device.token for device in db.session.query(Device)] == ["fresh"]
    result = app.test_cli_runner().invoke(args=["users", "prune-devices", "--days", "30"])
    assert "removed 1" in result.output and count(app, Device) == 0
