"""Filtered results feeds (issue 12 items 3 and 6): a department's results in publication order.

A feed of one department's results (/feeds/results.atom?dept=…&year=…) ranks them by publication
time; with (department_id, published_at, id) and the year's and publication rule's columns the
database walks that order index-only and stops after the feed's entries, instead of reading the
year's rows and sorting them (100k data set: ~32 ms → ~1 ms of SQLite time; 300k results on
PostgreSQL: 11–140 ms → 0.6–7.5 ms).

Revision ID: e5a1c7d3b9f2
Revises: b8e4d2f6a913
Create Date: 2026-12-01 16:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1c7d3b9f2'
down_revision = 'b8e4d2f6a913'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('result', schema=None) as batch_op:
        batch_op.create_index('ix_result_department_published',
                              ['department_id', 'published_at', 'id', 'formed_date', 'status', 'withheld',
                               'withdrawn_at'], unique=False)


def downgrade():
    with op.batch_alter_table('result', schema=None) as batch_op:
        batch_op.drop_index('ix_result_department_published')
