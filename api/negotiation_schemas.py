"""Request and response bodies of the negotiation's routes (renewal-semantics.md §3): the next
version made by editing terms, the offer of an approved version, the supplier's answer and the
hearing of its needs; and the negotiation as procurement and legal read it."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.contract import IsoDate
from models.drafts import TermsEdit
from models.negotiation import NegotiationView, SupplierAnswerKind
from models.numbers import PositiveDbInt

ContentHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Note = Annotated[str, Field(max_length=4000)]


class VersionEditIn(BaseModel):
    """The next version: the current version's terms with ``edit`` applied. A clause left out
    of ``edit`` (or null) keeps its value; ``remove_price_adjustment_cap: true`` removes the cap,
    ``additional_clauses`` replaces the list (``[]`` clears it)."""

    model_config = ConfigDict(extra="forbid")

    based_on_version: Annotated[
        PositiveDbInt, Field(description="the current version; a form made on an older one is 409")
    ]
    edit: TermsEdit
    note: Annotated[
        Note, Field(description="what the version answers (default: legal's comment)")
    ] = ""


class OfferIn(BaseModel):
    """An approved version was presented to the supplier."""

    model_config = ConfigDict(extra="forbid")

    draft_version: PositiveDbInt
    presented_on: IsoDate
    content_hash: Annotated[
        ContentHash | None, Field(description="when given, must be the approved text's")
    ] = None
    note: Note = ""


class AnswerIn(BaseModel):
    """The supplier's answer to the presented version. Accepting needs ``content_hash``,
    ``confirmed_by`` and ``reference``; a counter-offer needs ``counter_terms`` (an edit of the
    version answered: it becomes the next version, which goes to legal review)."""

    model_config = ConfigDict(extra="forbid")

    draft_version: PositiveDbInt
    answer: SupplierAnswerKind
    answered_on: IsoDate
    content_hash: ContentHash | None = None
    confirmed_by: Annotated[
        str, Field(max_length=200, description="who signed or confirmed for the supplier")
    ] = ""
    reference: Annotated[
        str, Field(max_length=200, description="the evidence: signed copy, mail, order number")
    ] = ""
    note: Note = ""
    counter_terms: TermsEdit | None = None


class HearingIn(BaseModel):
    """ヒアリング: what the supplier said it needs and asks for at the first discussion."""

    model_config = ConfigDict(extra="forbid")

    held_on: IsoDate
    needs: Annotated[str, Field(min_length=1, max_length=4000)]
    wants_to_continue: bool | None = None


class NegotiationOut(BaseModel):
    workflow_id: str
    contract_id: str
    term: int
    live: bool = Field(
        description="false: the workflow could not be asked; only the stored plan and the "
        "current proposal's breaches are shown"
    )
    negotiation: NegotiationView
