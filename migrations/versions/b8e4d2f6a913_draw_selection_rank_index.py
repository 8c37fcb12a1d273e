"""The entity page's "why was I drawn" (issue 12 item 3): an entity's key rank within its stratum.

draw_service.why_drawn counts, for each draw that selected the entity, the selections of the same
draw and stratum with a key up to the entity's; with (draw_id, stratum, key) that count stays in
the index (100k data set: the statement from ~1.1 ms to ~0.1 ms of SQLite time for 33 draws).

Revision ID: b8e4d2f6a913
Revises: 9d3f6b2a7c41
Create Date: 2026-12-01 13:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e4d2f6a913'
down_revision = '9d3f6b2a7c41'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('draw_selection', schema=None) as batch_op:
        batch_op.create_index('ix_draw_selection_rank', ['draw_id', 'stratum', 'key'], unique=False)


def downgrade():
    with op.batch_alter_table('draw_selection', schema=None) as batch_op:
        batch_op.drop_index('ix_draw_selection_rank')
