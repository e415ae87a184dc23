"""Orders with a status and guest orders, non-product lines, truncated messages, customer merges

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:23:54.236391
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("merged_id", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_merges_customer_id"), ["customer_id"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_product", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="placed", nullable=False)
        )
        batch_op.add_column(
            sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("customer_id", existing_type=sa.VARCHAR(length=128), nullable=True)


def downgrade() -> None:
    # Orders with no buyer cannot be held by the older schema.
    op.execute(
        "DELETE FROM order_items"
        " WHERE order_id IN (SELECT id FROM orders WHERE customer_id IS NULL)"
    )
    op.execute("DELETE FROM orders WHERE customer_id IS NULL")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.VARCHAR(length=128), nullable=False)
        batch_op.drop_column("source_updated_at")
        batch_op.drop_column("status")

    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.drop_column("is_product")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("truncated")

    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_merges_customer_id"))

    op.drop_table("customer_merges")
