"""network API: the "comments" push preference, sample (demo) profiles, and a profile for every alumni account

Accounts whose role is alumni get their network profile at sign-in; those that signed in before this release get it
here, so that they are in the directory without signing in again (the released app keeps its token for months).

Revision ID: 0012_network_api
Revises: 0011_catalogue_changes
Create Date: 2026-12-01 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_network_api'
down_revision = '0011_catalogue_changes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comments', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sample', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.execute(
        "INSERT INTO network_profile (user_id, first_name, last_name, biography, visible, edited_fields, sample, "
        "created_at, updated_at) "
        "SELECT u.id, u.first_name, u.last_name, '', true, '[]', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM user_account u WHERE u.role = 'alumni' "
        "AND NOT EXISTS (SELECT 1 FROM network_profile p WHERE p.user_id = u.id)"
    )


def downgrade():
    with op.batch_alter_table('network_profile', schema=None) as batch_op:
        batch_op.drop_column('sample')

    with op.batch_alter_table('notification_preference', schema=None) as batch_op:
        batch_op.drop_column('comments')
