"""The tables of the follow-up reviews during a term (issue 17): one row per review (contract,
term, sequence), its issues and actions, and a contract's own review interval. Same metadata as
:mod:`models.tables` (migration 0014).
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import Base


class ContractFollowUpSettingsRow(Base):
    """A contract's own follow-up interval in months; no row (or NULL): the setting."""

    __tablename__ = "contract_followup_settings"

    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), primary_key=True)
    interval_months: Mapped[int | None] = mapped_column(Integer, default=None)


class FollowUpRow(Base):
    """One follow-up review. ``state`` is ``due`` once the workflow opened it (or a person
    recorded it before), ``recorded`` once its figures are in."""

    __tablename__ = "followups"
    __table_args__ = (UniqueConstraint("contract_id", "term", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    term: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_by: Mapped[str | None] = mapped_column(String(200), default=None)
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    feedback: Mapped[str] = mapped_column(Text, default="", server_default="")
    csat: Mapped[int | None] = mapped_column(Integer, default=None)
    nps: Mapped[int | None] = mapped_column(Integer, default=None)
    supplier_continue: Mapped[str | None] = mapped_column(String(20), default=None)
    supplier_continue_on: Mapped[str] = mapped_column(Text, default="", server_default="")


class FollowUpActionRow(Base):
    """An open issue or an action of a review, with owner, due date and state (``open`` or
    ``closed``); ``escalated_at`` is set the one time an overdue action escalates."""

    __tablename__ = "followup_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id"), index=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("contracts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
