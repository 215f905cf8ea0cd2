"""catalogue changes: every committed change of the catalogue recorded once (catalogue_change), whatever made it

A webhook delivery now points at the catalogue change it applied (webhook_delivery.change_id) instead of holding
its own copy of the change set; existing deliveries' change sets move into catalogue_change (source
"webhook:<delivery id>"), and back on downgrade.

Revision ID: 0011_catalogue_changes
Revises: 0010_hardening
Create Date: 2026-12-01 19:30:21.662230

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_catalogue_changes'
down_revision = '0010_hardening'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalogue_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_change'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_webhook_delivery_change_id'), ['change_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_webhook_delivery_change_id_catalogue_change'), 'catalogue_change', ['change_id'], ['id'])
    # Applied deliveries that changed something: their change set becomes a catalogue change of their own.
    op.execute(
        "INSERT INTO catalogue_change (source, changes, created_at) "
        "SELECT 'webhook:' || CAST(id AS VARCHAR), changes, received_at FROM webhook_delivery "
        "WHERE status = 'applied' AND changes IS NOT NULL "
        "AND (created_count > 0 OR updated_count > 0 OR removed_count > 0) ORDER BY id"
    )
    op.execute(
        "UPDATE webhook_delivery SET change_id = (SELECT catalogue_change.id FROM catalogue_change "
        "WHERE catalogue_change.source = 'webhook:' || CAST(webhook_delivery.id AS VARCHAR))"
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_column('changes')


def downgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changes', sa.JSON(), nullable=True))
    op.execute(
        "UPDATE webhook_delivery SET changes = (SELECT catalogue_change.changes FROM catalogue_change "
        "WHERE catalogue_change.id = webhook_delivery.change_id)"
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_webhook_delivery_change_id_catalogue_change'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_change_id'))
        batch_op.drop_column('change_id')

    op.drop_table('catalogue_change')
