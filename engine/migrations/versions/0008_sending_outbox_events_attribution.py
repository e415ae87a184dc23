"""Sending: flow entries, the sending outbox, email events, attributions, suppression, secrets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:21:53.895322
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "attributions",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attributions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attributions_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "email_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("bounce", sa.String(length=8), nullable=True),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id", name="uq_email_events_provider_event_id"),
    )
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_events_customer_event_at",
            ["customer_id", "event", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_email_events_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "email_sends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("transport", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draft_id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_sends_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_email_sends_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index(
            "ix_email_sends_state_next", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "flow_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("anchor", sa.String(length=200), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "customer_id",
            "kind",
            "step",
            "anchor",
            name="uq_flow_entries_customer_kind_step_anchor",
        ),
    )
    with op.batch_alter_table("flow_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_entries_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flow_entries_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_entries_entered_at"), ["entered_at"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suppression_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("suppression_reason")
        batch_op.drop_column("suppressed_at")

    with op.batch_alter_table("flow_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_entries_entered_at"))
        batch_op.drop_index(batch_op.f("ix_flow_entries_draft_id"))
        batch_op.drop_index(batch_op.f("ix_flow_entries_customer_id"))

    op.drop_table("flow_entries")
    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_email_sends_state_next")
        batch_op.drop_index(batch_op.f("ix_email_sends_sent_at"))
        batch_op.drop_index(batch_op.f("ix_email_sends_customer_id"))

    op.drop_table("email_sends")
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_events_draft_id"))
        batch_op.drop_index("ix_email_events_customer_event_at")

    op.drop_table("email_events")
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attributions_draft_id"))
        batch_op.drop_index(batch_op.f("ix_attributions_customer_id"))

    op.drop_table("attributions")
    op.drop_table("secrets")
