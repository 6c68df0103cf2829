"""The outcome of a renewal puts the approved draft's terms into force for the next term."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update
from temporalio.exceptions import ApplicationError

from activities.renewal_activities import RenewalActivities
from domain.content_hash import content_hash
from domain.milestones import next_term_end
from models.drafts import ProposedTerms
from models.renewal import DraftKind, OpenRenewal, OutcomeKind, OutcomeRequest
from models.tables import ContractRow, DraftRow
from store.db import SessionFactory, transaction
from store.renewals import get_renewal, open_renewal, save_draft
from tests.factories import register

END = date(2027, 3, 31)
AGREED = ProposedTerms(
    unit_price=Decimal("1180.50"),
    currency="JPY",
    annual_volume=Decimal("12000"),
    exclusivity=True,
    payment_terms="Net 45",
    term_months=6,  # a bridge term while the category is re-tendered
    new_end_date=date(2027, 9, 30),
    notice_period_days=60,
    price_adjustment="Capped at 2 % a year.",
    service_levels="98 % on time.",
)


VERSIONS = {1: AGREED.model_copy(update={"unit_price": Decimal(1)}), 2: AGREED}
# The real hash of each stored version: the worker recomputes it before terms go into force.
HASHES = {v: content_hash(f"draft {v}", t.as_json(), None) for v, t in VERSIONS.items()}


def _setup(sessions: SessionFactory, cid: str) -> None:
    with transaction(sessions) as s:
        register(s, id=cid, end_date=END, notice_period_days=30, renewal_term_months=12)
        open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by="buyer@example.com",
                term_end_date=END,
            ),
        )
        renewal = get_renewal(s, contract_id=cid, term=1)
        for version, terms in VERSIONS.items():
            save_draft(
                s,
                renewal=renewal,
                kind=DraftKind.RENEGOTIATION,
                version=version,
                language="en",
                body=f"draft {version}",
                proposed_terms=terms.as_json(),
                content_hash=HASHES[version],
                requested_by="buyer@example.com",
                answers_comment=None,
                created_at=datetime(2026, 12, 1, tzinfo=UTC),
            )


def _renewed(cid: str, *, version: int | None, content_hash: str | None) -> OutcomeRequest:
    return OutcomeRequest(
        contract_id=cid,
        term=1,
        workflow_id=f"renewal/{cid}/term-1",
        kind=OutcomeKind.RENEWED,
        decided_at=datetime(2027, 3, 31, tzinfo=UTC),
        term_months=12,
        approved_version=version,
        approved_content_hash=content_hash,
    )


def test_the_approved_drafts_terms_run_the_next_term(sessions: SessionFactory) -> None:
    _setup(sessions, "C-AGREED")
    activities = RenewalActivities(sessions)
    outcome = activities.record_outcome(_renewed("C-AGREED", version=2, content_hash=HASHES[2]))
    assert outcome.new_end_date == next_term_end(END, 6)
    again = activities.record_outcome(_renewed("C-AGREED", version=2, content_hash=HASHES[2]))
    assert again == outcome  # a retried activity changes nothing more
    with transaction(sessions) as s:
        row = s.get(ContractRow, "C-AGREED")
        assert row is not None
        assert (row.current_term, row.end_date) == (2, next_term_end(END, 6))
        assert row.unit_price == Decimal("1180.50") and row.annual_volume == Decimal(12000)
        assert row.exclusivity and row.payment_terms == "Net 45"
        assert (row.notice_period_days, row.renewal_term_months) == (60, 6)
        assert row.price_adjustment == "Capped at 2 % a year."
        assert row.service_levels == "98 % on time."


def test_without_an_approved_draft_the_terms_stay(sessions: SessionFactory) -> None:
    _setup(sessions, "C-ASIS")
    outcome = RenewalActivities(sessions).record_outcome(
        _renewed("C-ASIS", version=None, content_hash=None)
    )
    assert outcome.new_end_date == next_term_end(END, 12)
    with transaction(sessions) as s:
        row = s.get(ContractRow, "C-ASIS")
        assert row is not None and row.current_term == 2
        # The factory's registered terms, untouched.
        assert (row.payment_terms, row.renewal_term_months) == ("Net 60", 12)


def test_a_draft_changed_after_its_approval_is_not_put_into_force(
    sessions: SessionFactory,
) -> None:
    _setup(sessions, "C-TAMPER")
    with transaction(sessions) as s:
        s.execute(update(DraftRow).where(DraftRow.version == 2).values(content_hash="other"))
    with pytest.raises(ApplicationError) as refused:
        RenewalActivities(sessions).record_outcome(
            _renewed("C-TAMPER", version=2, content_hash=HASHES[2])
        )
    assert refused.value.non_retryable and refused.value.type == "Conflict"
    assert "changed after it was approved" in refused.value.message
    with transaction(sessions) as s:
        row = s.get(ContractRow, "C-TAMPER")
        assert row is not None and row.current_term == 1 and row.end_date == END


def test_terms_edited_in_the_database_after_approval_are_refused(
    sessions: SessionFactory,
) -> None:
    """The tamper case of issue 15: the price edited in ``drafts.proposed_terms``, the stored
    hash column left as it was. The hash is recomputed from the stored version: refused, and
    the contract keeps its terms."""
    _setup(sessions, "C-EDITED")
    edited = {**AGREED.as_json(), "unit_price": "1.00"}
    with transaction(sessions) as s:
        s.execute(update(DraftRow).where(DraftRow.version == 2).values(proposed_terms=edited))
    with pytest.raises(ApplicationError) as refused:
        RenewalActivities(sessions).record_outcome(
            _renewed("C-EDITED", version=2, content_hash=HASHES[2])
        )
    assert refused.value.non_retryable and refused.value.type == "Conflict"
    assert refused.value.message.startswith("content_hash:")
    with transaction(sessions) as s:
        row = s.get(ContractRow, "C-EDITED")
        assert row is not None and row.current_term == 1 and row.end_date == END
        assert row.unit_price != Decimal("1.00")
