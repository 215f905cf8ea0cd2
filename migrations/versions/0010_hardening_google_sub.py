"""hardening: the Google account (sub) each user signed in with first

Accounts are still matched by e-mail (the released app's continuity), but a later token for the same e-mail
from a different Google account (an address the domain deleted and re-created) is refused. Existing accounts
start without one and record it at their next sign-in.

Revision ID: 0010_hardening
Revises: 0009_cache_generations
Create Date: 2026-12-01 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_hardening'
down_revision = '0009_cache_generations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('google_sub', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('google_sub')
