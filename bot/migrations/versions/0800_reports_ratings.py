"""reports, ratings and referrals (issue 15): the anonymous facts reports read

Revision ID: 0800
Revises: 0700
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0800"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, bot.db.base.UTCDateTime(timezone=True), nullable=nullable)


def _flag(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "conversation_facts",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        _when("started_at", nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=True),
        sa.Column("subtopic", sa.String(length=60), nullable=True),
        sa.Column("lad_code", sa.String(length=9), nullable=True),
        sa.Column("organisation_id", sa.String(length=16), nullable=True),
        _flag("fallback"),
        _flag("started_out_of_hours"),
        _when("handed_over_at"),
        sa.Column("handover_reason", sa.String(length=40), nullable=True),
        _flag("handover_out_of_hours"),
        _flag("urgent"),
        _when("first_reply_at"),
        _when("resolved_at"),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        _when("assistant_accepted_at"),
        sa.Column("min_confidence", sa.Float(), nullable=True),
        sa.Column("min_confidence_intent", sa.String(length=60), nullable=True),
        _when("rating_asked_at"),
        sa.Column("rating", sa.Integer(), nullable=True),
        _when("rated_at"),
        sa.PrimaryKeyConstraint(
            "conversation_id", name=op.f("pk_conversation_facts")
        ),
    )
    for column in ("started_at", "lad_code", "organisation_id"):
        op.create_index(
            f"ix_conversation_facts_{column}", "conversation_facts", [column]
        )
    op.create_table(
        "referral_facts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("from_organisation_id", sa.String(length=16), nullable=True),
        sa.Column("to_organisation_id", sa.String(length=16), nullable=False),
        sa.Column("lad_code", sa.String(length=9), nullable=True),
        sa.Column("topic", sa.String(length=30), nullable=True),
        _when("referred_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_facts")),
    )
    for column in (
        "conversation_id",
        "from_organisation_id",
        "to_organisation_id",
        "referred_at",
    ):
        op.create_index(f"ix_referral_facts_{column}", "referral_facts", [column])
    # Conversations from before the facts existed: what their rows still say
    # (the first hand-over's time and reason, the latest resolution).
    op.execute(
        "INSERT INTO conversation_facts (conversation_id, started_at, channel, "
        "topic, subtopic, lad_code, organisation_id, fallback, "
        "started_out_of_hours, handed_over_at, handover_reason, "
        "handover_out_of_hours, urgent, first_reply_at, resolved_at, outcome) "
        "SELECT c.id, c.created_at, c.channel, c.topic, c.subtopic, c.lad_code, "
        "c.organisation_id, false, false, "
        "(SELECT min(h.created_at) FROM handoffs h WHERE h.conversation_id = c.id), "
        "(SELECT h.reason FROM handoffs h WHERE h.conversation_id = c.id "
        " ORDER BY h.id LIMIT 1), false, "
        "EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = c.id "
        " AND h.reason = 'urgent'), "
        "c.first_reply_at, "
        "(SELECT max(h.resolved_at) FROM handoffs h WHERE h.conversation_id = c.id "
        " AND h.outcome IS NOT NULL AND h.outcome <> 'handed_back'), "
        "c.outcome FROM conversations c"
    )


def downgrade() -> None:
    op.drop_table("referral_facts")
    op.drop_table("conversation_facts")
