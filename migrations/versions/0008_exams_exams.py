"""exams: a push preference of its own for exam schedules (notification category "exams")

Existing preference rows get exam_schedule = true: like every other category it is on until the user turns it off.

Revision ID: 0008_exams
Revises: 0007_network
Create Date: 2026-12-01 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_exams'
down_revision = '0007_network'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exam_schedule', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.drop_column('exam_schedule')
