"""Deep pages of the public lists (issue 12 item 6): the list order plus the publication columns.

A page's ids are chosen by the list's conditions and order alone (portal.queries._page_ids); with
these indexes PostgreSQL (and SQLite) find them by an index-only scan instead of reading and sorting
every public row: /results?page=7500 at 300,000 results went from ~660 ms to ~40 ms.

Revision ID: 9d3f6b2a7c41
Revises: 44a363b69b06
Create Date: 2026-12-01 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d3f6b2a7c41'
down_revision = '44a363b69b06'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('result', schema=None) as batch_op:
        batch_op.create_index('ix_result_list_order',
                              ['formed_date', 'id', 'status', 'published_at', 'withheld', 'withdrawn_at'],
                              unique=False)
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.create_index('ix_penalty_list_order',
                              ['decision_date', 'id', 'status', 'published_at', 'withheld', 'withdrawn_at',
                               'publicity_end', 'credit_repair_date'], unique=False)


def downgrade():
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_list_order')
    with op.batch_alter_table('result', schema=None) as batch_op:
        batch_op.drop_index('ix_result_list_order')
