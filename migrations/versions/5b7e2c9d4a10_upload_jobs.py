"""Pending uploads and import progress in the database (issue 12 item 1): hosts are interchangeable.

Revision ID: 5b7e2c9d4a10
Revises: 31d2cce7ac13
Create Date: 2026-12-01 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c9d4a10'
down_revision = '31d2cce7ac13'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upload_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('accept_warnings', sa.Boolean(), nullable=False),
    sa.Column('publish', sa.Boolean(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('problems', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_upload_job_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_upload_job_department_id_department')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_upload_job_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload_job')),
    sa.UniqueConstraint('token', name=op.f('uq_upload_job_token'))
    )
    with op.batch_alter_table('upload_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_job_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_job_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('upload_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_job_user_id'))
        batch_op.drop_index(batch_op.f('ix_upload_job_expires_at'))
    op.drop_table('upload_job')
