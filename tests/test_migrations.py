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
