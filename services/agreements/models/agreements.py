from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey
from .vocabulary import AgreementStatus, StepStatus


class Agreement(UUIDPrimaryKey, Timestamps, Base):
    """One version of a client's agreement. An amendment (Fortschreibung) is a new version
    linked to the previous one; a version with any signature is never changed again."""

    __tablename__ = "agreements"
    __table_args__ = (
        UniqueConstraint("client_id", "version"),
        # the figures' period filter
        Index("ix_agreements_created_at", "created_at"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agreements.id"))
    status: Mapped[str] = mapped_column(String(20), default=AgreementStatus.DRAFT)
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    client_signed_on: Mapped[date | None]
    counsellor_signed_on: Mapped[date | None]
    counsellor_signed_by: Mapped[str | None] = mapped_column(String(100))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))
    balance: Mapped[str | None] = mapped_column(Text)
    #: The two questions of the pilot's evaluation, asked at closing, optional
    #: (``ClosingAnswer``): did the agreement help; did it make it easier to keep going.
    helped: Mapped[str | None] = mapped_column(String(10))
    easier_to_keep_going: Mapped[str | None] = mapped_column(String(10))
    #: When the active agreement is next due for review: at most the tenant's interval after
    #: signing or the last review; none once it is closed or superseded.
    next_review_due: Mapped[date | None] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(100))

    goals: Mapped[list[Goal]] = relationship(
        back_populates="agreement",
        order_by="Goal.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    reviews: Mapped[list[Review]] = relationship(
        back_populates="agreement", order_by="Review.created_at", lazy="selectin"
    )

    @property
    def steps(self) -> list[Step]:
        return [step for goal in self.goals for step in goal.steps]


class Goal(UUIDPrimaryKey, Base):
    __tablename__ = "goals"

    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreements.id"), index=True)
    position: Mapped[int]
    field: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date]
    attainment: Mapped[str | None] = mapped_column(String(20))

    agreement: Mapped[Agreement] = relationship(back_populates="goals", lazy="raise")
    steps: Mapped[list[Step]] = relationship(
        back_populates="goal",
        order_by="Step.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class Step(UUIDPrimaryKey, Base):
    __tablename__ = "steps"

    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    owner_side: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=StepStatus.OPEN)
    #: The step this one was copied from by an amendment (keeps referrals traceable).
    origin_step_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("steps.id"))
    #: The offer (an HSDS service of the tenant's directory) this step takes up, if any.
    offer_service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("offer_services.id"), index=True
    )

    goal: Mapped[Goal] = relationship(back_populates="steps", lazy="raise")


class Review(UUIDPrimaryKey, Base):
    __tablename__ = "reviews"

    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreements.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    obstacles: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))

    agreement: Mapped[Agreement] = relationship(back_populates="reviews", lazy="raise")
    results: Mapped[list[ReviewStepResult]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class ReviewStepResult(UUIDPrimaryKey, Base):
    __tablename__ = "review_step_results"
    __table_args__ = (UniqueConstraint("review_id", "step_id"),)

    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviews.id"), index=True)
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("steps.id"))
    result: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
