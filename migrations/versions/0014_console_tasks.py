"""console tasks: long console actions (imports) as jobs with progress

Revision ID: 0014_console_tasks
Revises: 0013_console
Create Date: 2026-12-01 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_console_tasks'
down_revision = '0013_console'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('console_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('input_text', sa.Text(), nullable=True),
    sa.Column('input_sha256', sa.String(length=64), nullable=True),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_console_task_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_task'))
    )
    with op.batch_alter_table('console_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_task_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_task_state'), ['state'], unique=False)



def downgrade():
    with op.batch_alter_table('console_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_task_state'))
        batch_op.drop_index(batch_op.f('ix_console_task_created_at'))

    op.drop_table('console_task')
