"""Teams of users, for the ownership of contracts (renewal-semantics.md §6): a team has a
name and members; a contract may name one team (``contracts.team``), whose members may then act
on it as its owner does. Same metadata as :mod:`models.tables`.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import Base


class TeamRow(Base):
    """A team, known by its name (an identifier: letters, digits, ``. _ : -``)."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TeamMemberRow(Base):
    """One user in one team; a user may be in several teams."""

    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(ForeignKey("teams.name"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
