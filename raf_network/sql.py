"""SQL whose spelling depends on the database: PostgreSQL in production, SQLite in the embedded default."""
from raf_network.extensions import db


def dialect_insert(model):
    """``INSERT`` into ``model`` in the dialect of the app's database, for its ``ON CONFLICT`` clauses."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignore(model):
    """``INSERT … ON CONFLICT DO NOTHING`` (rows that already exist are left as they are)."""
    return dialect_insert(model).on_conflict_do_nothing()
