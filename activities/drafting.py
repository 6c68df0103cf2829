"""Renegotiation and interim-extension drafts, rendered from Jinja2 templates.

Each draft is rendered twice from the same context: as plain text (``<lang>/<kind>.txt.j2``,
the body that is stored and sent) and as HTML (``<lang>/<kind>.html.j2``, for the legal review
page). The content hash covers both and the proposed terms, so the version a reviewer approves
is fixed to exactly what they could read.

Safety:

* templates run in Jinja2's immutable sandbox with StrictUndefined: a template that names a
  missing value fails loudly instead of printing an empty clause, and an organisation's
  override template cannot reach Python internals or change the data it is given;
* user text (supplier names, titles, owners, reviewer comments) is passed as data, never
  compiled as a template, so ``{{7*7}}`` in a comment stays ``{{7*7}}``;
* HTML templates are autoescaped (matched on ``.html.j2``), text templates are not: ``<script>``
  is literal text in the body and ``&lt;script&gt;`` on the page. Values reach the templates as
  finished strings, and no macro is shared between text and HTML templates, because a macro's
  output is marked safe when called from an autoescaped template.

Organisations override any template by putting a file of the same name in
``RENEWALS_TEMPLATE_DIR/<language>/``.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from domain.content_hash import content_hash
from domain.milestones import notice_deadline
from domain.phrases import format_date, label, period_text, plain, signed
from domain.reasons import reason_in
from domain.terms import compare_stored, propose_interim_extension, propose_renewal
from domain.versions import stored_changes, version_proposal
from models.contract import ContractRead
from models.drafts import Proposal, ProposedTerms
from models.renewal import DraftKind
from models.scorecard import Scorecard, ScoringConfig


def make_environment(override_dir: Path | None = None) -> SandboxedEnvironment:
    loaders: list[Any] = []
    if override_dir is not None:
        loaders.append(FileSystemLoader(str(override_dir)))
    loaders.append(PackageLoader("activities", "templates"))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        # "x.html.j2" must match: select_autoescape compares the end of the name, and
        # ("html",) alone would leave every .html.j2 template unescaped. Anything that is not
        # declared text is escaped.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "html", "htm", "xml"),
            disabled_extensions=("txt.j2", "txt"),
            default_for_string=False,
            default=True,
        ),
        keep_trailing_newline=True,
    )
    env.filters["quote"] = quote
    # A renewal's reason in the mail's language: from reason_code / reason_values, else the
    # English text an older request carries (issue 17).
    env.globals["reason_in"] = reason_in
    return env


def quote(text: str, prefix: str = "> ") -> str:
    """Quote every line of a (possibly multi-line) comment, as e-mail does."""
    return "\n".join(f"{prefix}{line}" if line else prefix.rstrip() for line in text.splitlines())


@dataclass(frozen=True, slots=True)
class EarlierVersion:
    """A stored earlier version of the same draft, for the revision history."""

    version: int
    requested_by: str
    answers_comment: str | None
    content_hash: str
    proposed_terms: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DraftInputs:
    kind: DraftKind
    contract: ContractRead
    supplier_name: str
    version: int
    prepared_on: date
    requested_by: str
    scorecard: Scorecard | None = None
    answers_comment: str | None = None
    earlier: tuple[EarlierVersion, ...] = ()
    extension_months: int = 3
    cfg: ScoringConfig = field(default_factory=ScoringConfig)
    # The workflow's stored plan (business days applied); None: requests from older workflow
    # code, which printed the plain end date minus the notice period.
    notice_deadline: date | None = None
    send_by: date | None = None
    # A version made by a person: its terms as checked by domain.versions.next_terms, and who
    # wrote what it answers (legal's comment, or the supplier's counter-offer).
    terms: ProposedTerms | None = None
    answers_by: str | None = None
    answers_counter_offer: bool = False


@dataclass(frozen=True, slots=True)
class RenderedDraft:
    body: str
    body_html: str
    proposed_terms: dict[str, Any]
    content_hash: str
    proposal: Proposal


_BLANK_RUNS = re.compile(r"\n{3,}")


def template_names(kind: DraftKind, language: str) -> tuple[str, str]:
    return f"{language}/{kind.value}.txt.j2", f"{language}/{kind.value}.html.j2"


def _score(value: Decimal | None, language: str) -> str:
    return str(value) if value is not None else label("insufficient", language)


def _scorecard_context(card: Scorecard, language: str) -> dict[str, Any]:
    en, ja = period_text(card.period_start, card.period_end)
    previous = (
        period_text(card.previous_period_start, card.period_start)
        if card.previous_period_start is not None
        else None
    )
    return {
        "period": ja if language == "ja" else en,
        "previous_period": (previous[1] if language == "ja" else previous[0]) if previous else "",
        "total": _score(card.total, language),
        "has_total": card.total is not None,
        "grade": card.grade or "",
        "previous_total": str(card.previous_total) if card.previous_total is not None else "",
        "total_change": signed(card.total_change) if card.total_change is not None else "",
        "trend": label(card.trend.value, language) if card.trend is not None else "",
        "coverage": (
            str(plain(card.weight_coverage * 100)) if card.weight_coverage is not None else ""
        ),
        "kpis": [
            {
                "name": k.name,
                "label": label(k.name, language),
                "score": _score(k.score, language),
                "has_score": k.score is not None,
                "weight": str(plain(k.weight * 100)),
                "evidence": (k.evidence_ja or k.evidence) if language == "ja" else k.evidence,
                "previous": str(k.previous_score) if k.previous_score is not None else "",
                "change": signed(k.change) if k.change is not None else "",
            }
            for k in card.kpis
        ],
        "recommendation": label(card.recommendation.value, language),
        "recommendation_code": card.recommendation.value,
        "reasons": (
            [f.text(language) for f in card.findings]
            if card.findings
            else list(card.reasons)  # scorecards stored before findings existed
        ),
    }


def _market_context(card: Scorecard | None, language: str) -> dict[str, Any] | None:
    market = card.market if card else None
    if market is None:
        return None
    en, ja = period_text(market.period_start, market.period_end)
    return {
        "category": market.category,
        "period": ja if language == "ja" else en,
        "observations": market.observations,
        "signals": [
            {
                "kind": s.kind.value,
                "label": label(s.kind.value, language),
                "observation": s.observation.text(language),
                "implication": s.implication.text(language),
            }
            for s in market.signals
        ],
        "notes": [n.text(language) for n in market.notes],
    }


def build_context(inputs: DraftInputs, proposal: Proposal) -> dict[str, Any]:
    """Everything a template may print, as finished strings in the draft's language."""
    contract = inputs.contract
    language = contract.language
    proposed_json = proposal.terms.as_json()
    previous = inputs.earlier[-1] if inputs.earlier else None
    return {
        "language": language,
        "draft": {
            "kind": inputs.kind.value,
            "version": inputs.version,
            "prepared_on": format_date(inputs.prepared_on, language),
            "requested_by": inputs.requested_by,
            "made_by_person": inputs.terms is not None,
            "answers_by": inputs.answers_by or "",
            "answers_counter_offer": inputs.answers_counter_offer,
        },
        "contract": {
            "id": contract.id,
            "title": contract.title,
            "owner": contract.owner,
            "currency": contract.currency,
            "start_date": format_date(contract.start_date, language),
            "end_date": format_date(contract.end_date, language),
            "notice_period_days": contract.notice_period_days,
            "notice_deadline": format_date(
                inputs.notice_deadline
                or notice_deadline(contract.end_date, contract.notice_period_days),
                language,
            ),
            "send_by": format_date(inputs.send_by, language) if inputs.send_by else "",
        },
        "supplier_name": inputs.supplier_name,
        "answers_comment": inputs.answers_comment,
        "changes": [
            {
                "clause": c.clause,
                "label": c.label,
                "current": c.current,
                "proposed": c.proposed,
                "changed": c.changed,
                "reasons": [r.text(language) for r in c.reasons],
            }
            for c in proposal.changes
        ],
        "changed_count": sum(1 for c in proposal.changes if c.changed),
        "scorecard": (_scorecard_context(inputs.scorecard, language) if inputs.scorecard else None),
        "market": _market_context(inputs.scorecard, language),
        "previous_version": previous.version if previous else None,
        "changes_since_previous": (
            (
                stored_changes(previous.proposed_terms, proposal.terms, language=language)
                if inputs.terms is not None
                else compare_stored(previous.proposed_terms, proposed_json, language)
            )
            if previous
            else []
        ),
        "history": [
            {
                "version": v.version,
                "requested_by": v.requested_by,
                "answers_comment": v.answers_comment or "",
                "content_hash": v.content_hash[:12],
                "created_on": format_date(v.created_at.date(), language),
            }
            for v in inputs.earlier
        ],
    }


def propose(inputs: DraftInputs) -> Proposal:
    language = inputs.contract.language
    if inputs.terms is not None:
        return version_proposal(inputs.contract, inputs.terms, language=language)
    if inputs.kind is DraftKind.INTERIM_EXTENSION:
        return propose_interim_extension(
            inputs.contract, inputs.extension_months, language=language
        )
    return propose_renewal(inputs.contract, inputs.scorecard, inputs.cfg, language=language)


def render_draft(env: SandboxedEnvironment, inputs: DraftInputs) -> RenderedDraft:
    proposal = propose(inputs)
    context = build_context(inputs, proposal)
    text_name, html_name = template_names(inputs.kind, inputs.contract.language)
    # Templates read better with generous blank lines around blocks than with whitespace
    # control on every tag; the text keeps at most one blank line in a row.
    body = _BLANK_RUNS.sub("\n\n", env.get_template(text_name).render(context))
    body_html = env.get_template(html_name).render(context)
    terms = proposal.terms.as_json()
    return RenderedDraft(
        body=body,
        body_html=body_html,
        proposed_terms=terms,
        content_hash=content_hash(body, terms, body_html),
        proposal=proposal,
    )
