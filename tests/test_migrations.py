"""The committed migrations have one head and produce exactly the schema the models describe."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade


def _script(app):
    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())


def test_one_head(embedded_app):
    with embedded_app.app_context():
        assert len(_script(embedded_app).get_heads()) == 1


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
def test_models_match_migrations(backend, request):
    app = request.getfixturevalue("embedded_app" if backend == "embedded" else "pg_app")
    from raf_network.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_downgrade_to_base_and_back(embedded_app):
    from sqlalchemy import inspect

    from raf_network.extensions import db

    with embedded_app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "schedule_entry" in inspect(db.engine).get_table_names()


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
def test_catalogue_changes_migration_moves_delivery_change_sets_and_back(backend, request):
    """0011 moves each applied delivery's change set into catalogue_change (and points the delivery at it);
    its downgrade puts them back."""
    from sqlalchemy import text

    from raf_network.extensions import db

    app = request.getfixturevalue("embedded_app" if backend == "embedded" else "pg_app")
    changed = '{"created": {"schedule": ["e1"]}, "updated": {}, "removed": {}}'
    empty = '{"created": {"schedule": []}, "updated": {}, "removed": {}}'
    insert = text("INSERT INTO webhook_delivery (id, webhook_id, received_at, signature, status, http_status, "
                  "created_count, updated_count, removed_count, changes, raw_body) VALUES (:id, :id_text, "
                  "CURRENT_TIMESTAMP, 'valid', :status, 200, :created, 0, 0, :changes, :body)")
    with app.app_context():
        try:
            downgrade(revision="0010_hardening")
            db.session.execute(insert, [
                {"id": 1, "id_text": "msg_1", "status": "applied", "created": 1, "changes": changed, "body": b"{}"},
                {"id": 2, "id_text": "msg_2", "status": "applied", "created": 0, "changes": empty, "body": b"{}"},
                {"id": 3, "id_text": "msg_3", "status": "rejected", "created": 0, "changes": None, "body": b"{}"},
            ])
            db.session.commit()
            upgrade()
            rows = db.session.execute(text(
                "SELECT d.id, c.source, c.changes FROM webhook_delivery d "
                "LEFT JOIN catalogue_change c ON c.id = d.change_id ORDER BY d.id")).all()
            assert [(row[0], row[1]) for row in rows] == [(1, "webhook:1"), (2, None), (3, None)]
            import json

            stored = rows[0][2] if isinstance(rows[0][2], dict) else json.loads(rows[0][2])
            assert stored["created"]["schedule"] == ["e1"]
            db.session.rollback()  # no transaction of ours may hold a lock the migration waits for
            downgrade(revision="0010_hardening")
            back = db.session.execute(text("SELECT id, changes FROM webhook_delivery ORDER BY id")).all()
            restored = back[0][1] if isinstance(back[0][1], dict) else json.loads(back[0][1])
            assert restored["created"]["schedule"] == ["e1"] and back[2][1] is None
            db.session.rollback()
        finally:
            db.session.rollback()
            db.session.execute(text("DELETE FROM webhook_delivery"))
            db.session.commit()
            upgrade()


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
def test_staff_hiding_migration_moves_an_officers_hide_to_its_own_flag_and_back(backend, request):
    """0016: a profile hidden now whose latest hide/show in the audit log is an officer's hide that changed
    something, with nothing changed since, becomes hidden by staff (the person's own flag set back); every other
    hidden profile stays hidden by the person's own choice."""
    import json

    from sqlalchemy import text

    from raf_network.extensions import db

    app = request.getfixturevalue("embedded_app" if backend == "embedded" else "pg_app")
    before, hide, after = "2026-01-01 10:00:00+00:00", "2026-01-01 11:00:00+00:00", "2026-01-01 12:00:00+00:00"
    profile = text("INSERT INTO network_profile (id, first_name, last_name, biography, visible, edited_fields, "
                   "sample, created_at, updated_at) VALUES (:id, 'P', 'Q', '', :visible, :edited, false, "
                   ":updated, :updated)")
    audit = text("INSERT INTO console_audit (id, created_at, actor_email, action, target, details, ip_address, "
                 "user_agent) VALUES (:id, :at, 'o@raf.rs', :action, :target, :details, '', '')")
    changed, unchanged = json.dumps({"changed": True}), json.dumps({"changed": False})
    with app.app_context():
        try:
            downgrade(revision="0015_console_task_exclusive")
            db.session.execute(profile, [
                {"id": 1, "visible": False, "edited": '["visible", "biography"]', "updated": before},  # an officer's
                {"id": 2, "visible": False, "edited": '["visible"]', "updated": before},  # the person's: no entry
                {"id": 3, "visible": False, "edited": '["visible"]', "updated": before},  # hidden, shown, then own
                {"id": 4, "visible": True, "edited": '["visible"]', "updated": before},  # shown again by the person
                {"id": 5, "visible": False, "edited": '["visible"]', "updated": before},  # hide that changed nothing
                {"id": 6, "visible": False, "edited": '["visible"]', "updated": after}])  # changed since the hide
            db.session.execute(audit, [
                {"id": 1, "at": hide, "action": "profile_hide", "target": "profile 1", "details": changed},
                {"id": 2, "at": before, "action": "profile_hide", "target": "profile 3", "details": changed},
                {"id": 3, "at": hide, "action": "profile_show", "target": "profile 3", "details": changed},
                {"id": 4, "at": hide, "action": "profile_hide", "target": "profile 4", "details": changed},
                {"id": 5, "at": hide, "action": "profile_hide", "target": "profile 5", "details": unchanged},
                {"id": 6, "at": hide, "action": "profile_hide", "target": "profile 6", "details": changed}])
            db.session.commit()
            upgrade()
            rows = db.session.execute(text(
                "SELECT id, visible, hidden_by_staff, edited_fields FROM network_profile ORDER BY id")).all()
            assert [tuple(row[:3]) for row in rows] == [(1, True, True), (2, False, False), (3, False, False),
                                                        (4, True, False), (5, False, False), (6, False, False)]
            edited = rows[0][3] if isinstance(rows[0][3], list) else json.loads(rows[0][3])
            assert edited == ["biography"]  # an officer's hide is not something the person changed
            db.session.rollback()
            downgrade(revision="0015_console_task_exclusive")
            back = db.session.execute(text("SELECT id, visible FROM network_profile ORDER BY id")).all()
            assert [tuple(row) for row in back] == [(1, False), (2, False), (3, False), (4, True), (5, False),
                                                    (6, False)]
            db.session.rollback()
        finally:
            db.session.rollback()
            upgrade()
            db.session.execute(text("DELETE FROM console_audit"))
            db.session.execute(text("DELETE FROM network_profile"))
            db.session.commit()
