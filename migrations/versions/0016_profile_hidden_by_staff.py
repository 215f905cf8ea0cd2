"""network profiles: an officer's hiding as a flag of its own, which the person's own "visible" cannot undo

Revision ID: 0016_profile_hidden_by_staff
Revises: 0015_console_task_exclusive
Create Date: 2026-12-02 01:45:00

"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_profile_hidden_by_staff'
down_revision = '0015_console_task_exclusive'
branch_labels = None
depends_on = None

# Until this revision an officer's hiding set the person's own flag ("visible" false, marked in edited_fields), so
# the flag cannot tell who chose it; the console's audit log can. A profile hidden now moves to the new flag (its own
# set back) only when the latest hide/show logged for it is an officer's hide that changed something, and nothing
# changed the profile after it (the person's own PATCH, a re-import). Anything else stays the person's choice:
# wrongly kept hidden is safe, wrongly shown is not.


PROFILE = sa.table("network_profile", sa.column("id", sa.Integer), sa.column("visible", sa.Boolean),
                   sa.column("hidden_by_staff", sa.Boolean), sa.column("edited_fields", sa.JSON))


def _decoded(value):
    return json.loads(value) if isinstance(value, str) else (value or {})


def _aware(moment):
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def upgrade():
    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_by_staff', sa.Boolean(), server_default=sa.false(), nullable=False))
    connection = op.get_bind()
    latest = {}
    for target, action, details, created_at in connection.execute(sa.text(
            "SELECT target, action, details, created_at FROM console_audit "
            "WHERE action IN ('profile_hide', 'profile_show') ORDER BY created_at, id")):
        latest[target] = (action, _decoded(details), created_at)  # the last one wins
    hidden = connection.execute(sa.text(
        "SELECT id, edited_fields, updated_at FROM network_profile WHERE visible = false")).all()
    for profile_id, edited_fields, updated_at in hidden:
        action, details, logged_at = latest.get(f"profile {profile_id}", (None, {}, None))
        if action != "profile_hide" or not details.get("changed") or _aware(updated_at) > _aware(logged_at):
            continue
        edited = [name for name in _decoded(edited_fields) or [] if name != "visible"]
        connection.execute(PROFILE.update().where(PROFILE.c.id == profile_id)
                           .values(hidden_by_staff=True, visible=True, edited_fields=edited))


def downgrade():
    op.execute("UPDATE network_profile SET visible = false WHERE hidden_by_staff = true")
    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.drop_column('hidden_by_staff')
