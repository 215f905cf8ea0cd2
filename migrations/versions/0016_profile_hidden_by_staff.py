"""network profiles: an officer's hiding as a flag of its own, which the person's own "visible" cannot undo

Revision ID: 0016_profile_hidden_by_staff
Revises: 0015_console_task_exclusive
Create Date: 2026-12-02 01:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_profile_hidden_by_staff'
down_revision = '0015_console_task_exclusive'
branch_labels = None
depends_on = None

# Profiles hidden now whose latest hide/show in the console's audit log is an officer's hide: until this revision an
# officer's hiding set the person's own flag, so it moves to the new one (the person's own flag is set back).
STAFF_HIDDEN = (
    "visible = false AND (SELECT audit.action FROM console_audit AS audit "
    "WHERE audit.target = 'profile ' || CAST(network_profile.id AS VARCHAR(20)) "
    "AND audit.action IN ('profile_hide', 'profile_show') "
    "ORDER BY audit.created_at DESC, audit.id DESC LIMIT 1) = 'profile_hide'"
)


def upgrade():
    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_by_staff', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(f"UPDATE network_profile SET hidden_by_staff = true, visible = true WHERE {STAFF_HIDDEN}")


def downgrade():
    op.execute("UPDATE network_profile SET visible = false WHERE hidden_by_staff = true")
    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.drop_column('hidden_by_staff')
