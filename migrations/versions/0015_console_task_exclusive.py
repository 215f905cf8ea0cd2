"""console tasks: at most one queued or running task of an exclusive kind, enforced by a unique index

Revision ID: 0015_console_task_exclusive
Revises: 0014_console_tasks
Create Date: 2026-12-02 01:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_console_task_exclusive'
down_revision = '0014_console_tasks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('console_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exclusive_kind', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_console_task_exclusive_kind'), ['exclusive_kind'])
    # A task queued or running when this runs (there should be none during a release) takes its kind's slot.
    op.execute("UPDATE console_task SET exclusive_kind = kind WHERE state IN ('queued', 'running') "
               "AND kind = 'portal_import' AND id = (SELECT max(id) FROM console_task AS other "
               "WHERE other.kind = 'portal_import' AND other.state IN ('queued', 'running'))")


def downgrade():
    with op.batch_alter_table('console_task', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_console_task_exclusive_kind'), type_='unique')
        batch_op.drop_column('exclusive_kind')
