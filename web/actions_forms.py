"""What every action form of the buyers' workspace shares: the posted values kept as typed,
each refusal placed next to its field, the other refusals as a notice in the reader's
language, and the negotiable terms' fields (pre-filled from a version, turned back into the
edit the services take).

The services refuse in English with the field named (``FieldError``); a page shows each
reason next to its field. A Japanese page shows the catalog's sentence for the refusals it
knows (:data:`_KNOWN_REASONS`) and the service's own words for the rest.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from starlette.datastructures import FormData

from models.errors import FieldError
from models.negotiation import LimitKind, NegotiationPlan
from portal.problems import Problem
from web.i18n import Translator
from web.pages import Notice

__all__ = [
    "TERM_ALIASES",
    "TERM_FIELDS",
    "TERM_NAMES",
    "FormState",
    "PlanRow",
    "form_text",
    "parse_date",
    "place_errors",
    "plan_rows",
    "posted_version",
    "reason_text",
    "refusal_notice",
    "terms_edit",
    "terms_values",
]


def N_(message: str) -> str:
    """A message marked for the catalog, translated where it is shown."""
    return message


def posted_version(raw: str) -> int | None:
    """A version number as a form posts it (digits, short enough for the database), else
    None: the page then says that version does not exist rather than failing."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


# ---------------------------------------------------------------------------- the form's state


@dataclass
class FormState:
    """What a form page shows: the values (as typed, or as stored on a first view), the
    refusals by field, and those that name no field of the form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, []).append(reason)

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.general)


def form_text(form: FormData, name: str, *, limit: int = 4000) -> str:
    """A posted text field as typed (line ends made one kind), at most ``limit`` characters."""
    raw = form.get(name)
    if not isinstance(raw, str):
        return ""
    return raw.replace("\r\n", "\n").replace("\r", "\n")[:limit]


def parse_date(state: FormState, name: str, t: Translator) -> date | None:
    """The posted date of field ``name`` (YYYY-MM-DD, as a date input sends it), else None and
    the refusal put next to the field."""
    typed = state.values.get(name, "").strip()
    if not typed:
        state.add(name, t.gettext("Required: enter a date."))
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        state.add(name, t.gettext("Enter a date as YYYY-MM-DD."))
        return None


# ---------------------------------------------------------------------------- refusals

# Known refusals of the services, in the catalog's words for a Japanese page. The English page
# keeps the service's own sentence, which says more (the figures it got).
_KNOWN_REASONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"is in the future", N_("This date is in the future: record it once it happened.")),
        (r"^must be greater than 0", N_("Must be greater than 0.")),
        (r"^must not be negative", N_("Must not be negative.")),
        (r"^unknown currency", N_("Unknown currency: use an ISO 4217 code such as JPY.")),
        (
            r"^changes nothing",
            N_("This changes nothing: every clause is as in the version it is based on."),
        ),
        (r"longer than the term", N_("The notice period is longer than the term.")),
        (r"^must not be empty", N_("Must not be empty.")),
        (r"^must be above 0 and at most 100", N_("Must be above 0 and at most 100.")),
        (
            r"^a cap needs a price adjustment",
            N_("A cap needs a price adjustment clause to cap."),
        ),
        (
            r"^required to accept: the hash",
            N_("Required to accept: the content hash of the version the supplier agreed to."),
        ),
        (
            r"^required to accept: who",
            N_("Required to accept: who signed or confirmed for the supplier."),
        ),
        (
            r"^required to accept: the evidence",
            N_("Required to accept: the evidence (signed copy, mail, order number)."),
        ),
        (
            r"^required for a counter-offer",
            N_("A counter-offer needs the terms it proposes."),
        ),
        (r"never presented", N_("This version was never presented to the supplier.")),
        (r"superseded", N_("A later version replaced this one.")),
        (r"not approved by legal", N_("Legal has not approved this version.")),
        (r"is not the hash of version", N_("This is not the hash of the version's text.")),
        (r"^Field required", N_("Required.")),
        (r"^String should have at least 1 character", N_("Required.")),
        (r"^String should have at most", N_("Too long.")),
        (r"^Input should be", N_("This value is not one of the choices.")),
        (r"^an amendment must change", N_("Change the end date or the notice period.")),
        (r"is recorded$", N_("The dispatch of this version is already recorded.")),
        (r"^a fixed-term contract ends", N_("A fixed-term contract takes no non-renewal notice.")),
        (r"is not a non-renewal notice", N_("This version is not a non-renewal notice.")),
        (r"does not exist", N_("This version does not exist.")),
    )
)


# The workflow's conflicts (its state, not the form), in the catalog's words on a Japanese page.
_KNOWN_CONFLICTS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (
            r"termination is pending",
            N_("The termination is pending: no new version or offer is made."),
        ),
        (
            r"is with the supplier",
            N_(
                "The current version is with the supplier: record its answer first (a "
                "counter-offer carries its terms)."
            ),
        ),
        (r"is agreed on version", N_("The renewal is already agreed.")),
        (
            r"started before versions made by people",
            N_(
                "This renewal was started before versions made by people existed: legal "
                "review alone decides its versions."
            ),
        ),
        (r"reached expiry", N_("The term has reached its end date.")),
        (
            r"not waiting for a revision|no version proposing terms",
            N_("The renewal is not waiting for a new version of the terms."),
        ),
    )
)


def reason_text(reason: str, t: Translator) -> str:
    """A service's refusal as the reader reads it."""
    if t.language == "en":
        return reason
    for pattern, message in _KNOWN_REASONS:
        if pattern.search(reason):
            return t.gettext(message)
    return reason


def place_errors(
    state: FormState,
    errors: Iterable[FieldError],
    t: Translator,
    *,
    fields: Iterable[str],
    aliases: Mapping[str, str] | None = None,
    labels: Callable[[str], str] | None = None,
) -> None:
    """Each refusal next to its field of the form (``edit.unit_price``, ``counter_terms.x`` and
    ``additional_clauses.2`` are the form's ``unit_price``, ``x`` and ``additional_clauses``);
    one naming no field of the form goes to the top, with the field's name in words."""
    known = set(fields)
    for error in errors:
        name = error.field
        for prefix in ("edit.", "counter_terms."):
            name = name.removeprefix(prefix)
        name = (aliases or {}).get(name, name)
        head = name.split(".")[0]
        head = (aliases or {}).get(head, head)
        text = reason_text(error.reason, t)
        if head in known:
            state.add(head, text)
        elif labels is not None and head not in {"", "(request)", "(record)", "terms"}:
            state.general.append(f"{labels(head)}: {text}")
        else:
            state.general.append(text)


def refusal_notice(problem: Problem, t: Translator) -> Notice:
    """A refusal that names no field (ownership, the renewal's state, Temporal down) as the
    notice at the top of the form, in the reader's language where the catalog knows it."""
    detail = problem.detail or problem.title
    if problem.status == 503:
        text = t.gettext(
            "The workflow service is not reachable just now; nothing was recorded. "
            "Try again in a moment."
        )
    elif problem.status == 403:
        text = t.gettext(
            "You may not do this: the contract belongs to another owner or team, or your "
            "role does not allow it. Nothing was recorded."
        )
        if t.language == "en":
            text += f" ({detail})"
    elif problem.status == 409:
        if "not the current version" in detail:
            text = t.gettext(
                "Another version was made since this form was opened, so nothing was changed. "
                "Start again from the current version."
            )
        elif "has ended" in detail or "is closed" in detail:
            text = t.gettext("The renewal of this term has ended; it can no longer be changed.")
        elif "is terminated" in detail:
            text = t.gettext("The contract is terminated: there is nothing to renew.")
        else:
            text = t.gettext("The renewal refused this in its current state; nothing was recorded.")
            known = next((m for p, m in _KNOWN_CONFLICTS if p.search(detail)), None)
            if known is not None and t.language != "en":
                # The catalog's sentence says it all; the service's English would be noise.
                return Notice("error", f"{text} {t.gettext(known)}")
        if t.language == "en" or "not the current version" not in detail:
            text += f" ({detail})"
    elif problem.status == 404:
        text = t.gettext("Not found: %(detail)s", detail=detail)
    else:
        text = t.gettext("Refused; nothing was recorded.") + f" ({detail})"
    return Notice("error", text)


# ---------------------------------------------------------------------------- the terms' fields


@dataclass(frozen=True, slots=True)
class TermField:
    name: str  # the TermsEdit field, and the form's
    kind: str  # decimal, int, bool, text, textarea, cap, lines


TERM_FIELDS: Final[tuple[TermField, ...]] = (
    TermField("unit_price", "decimal"),
    TermField("currency", "text"),
    TermField("annual_volume", "decimal"),
    TermField("exclusivity", "bool"),
    TermField("term_months", "int"),
    TermField("notice_period_days", "int"),
    TermField("payment_terms", "text"),
    TermField("price_adjustment", "textarea"),
    TermField("price_adjustment_cap_pct", "cap"),
    TermField("service_levels", "textarea"),
    TermField("additional_clauses", "lines"),
)
TERM_NAMES: Final = tuple(f.name for f in TERM_FIELDS)
TERM_ALIASES: Final[Mapping[str, str]] = {"remove_price_adjustment_cap": "price_adjustment_cap_pct"}


def terms_values(terms: Mapping[str, Any] | None) -> dict[str, str]:
    """A version's stored terms (``ProposedTerms.as_json()``) as the form's field values."""
    if not terms:
        return {f.name: "" for f in TERM_FIELDS}
    values: dict[str, str] = {}
    for f in TERM_FIELDS:
        value = terms.get(f.name)
        if f.kind == "bool":
            values[f.name] = "yes" if value else "no"
        elif f.kind == "lines":
            values[f.name] = "\n".join(str(v) for v in value or ())
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def terms_edit(state: FormState, base: Mapping[str, str], t: Translator) -> dict[str, Any]:
    """The edit the posted term fields make to the version whose values are ``base``: only the
    clauses the person changed (what they left as it was keeps the version's value, and the
    audit entry names what changed). A value that is not a number where one is needed is
    refused next to its field here; the rest is the services' to judge."""
    edit: dict[str, Any] = {}
    for f in TERM_FIELDS:
        typed = state.values.get(f.name, "").strip()
        before = base.get(f.name, "")
        if typed == before.strip():
            continue
        if f.kind == "decimal":
            number = _number(typed)
            if number is None:
                state.add(f.name, t.gettext("Enter a number."))
            elif _number(before) != number:
                edit[f.name] = str(number)
        elif f.kind == "int":
            if not re.fullmatch(r"-?\d{1,6}", typed):
                state.add(f.name, t.gettext("Enter a whole number."))
            elif not before or int(before) != int(typed):
                edit[f.name] = int(typed)
        elif f.kind == "bool":
            if typed not in {"yes", "no"}:
                state.add(f.name, t.gettext("Choose one."))
            else:
                edit[f.name] = typed == "yes"
        elif f.kind == "cap":
            if not typed:
                edit["remove_price_adjustment_cap"] = True
            else:
                number = _number(typed)
                if number is None:
                    state.add(f.name, t.gettext("Enter a number, or leave it empty for no cap."))
                elif _number(before) != number:
                    edit[f.name] = str(number)
        elif f.kind == "lines":
            clauses = [line.strip() for line in typed.split("\n") if line.strip()]
            if clauses != [line.strip() for line in before.split("\n") if line.strip()]:
                edit[f.name] = clauses
        elif f.name == "currency":
            edit[f.name] = typed.upper()
        else:
            edit[f.name] = typed
    return edit


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One negotiable term's target and limit, in the reader's language."""

    target: str
    limit: str
    reasons: tuple[str, ...]


def _display(clause: str, value: Any, currency: str, t: Translator) -> str:
    if value is None or value == "":
        return t.label("none")
    if clause == "unit_price":
        # Not t.money: a currency's usual places would round away the plan's decimals.
        price = Decimal(str(value))
        exponent = price.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return f"{t.number(price, places)} {currency}"
    if clause == "annual_volume":
        return t.number(Decimal(str(value)))
    if clause == "term_months":
        return t.ngettext("%(num)d month", "%(num)d months", int(value))
    if clause == "notice_period_days":
        return t.days(int(value))
    if clause in {"price_adjustment_cap_pct", "price_adjustment"} and not isinstance(value, str):
        return t.percent(Decimal(str(value)))
    if clause == "price_adjustment_cap_pct":
        return t.percent(Decimal(str(value)))
    if clause == "exclusivity":
        return t.label("exclusive" if value else "non_exclusive")
    if clause == "payment_terms" and isinstance(value, Decimal):
        return t.days(int(value))
    if isinstance(value, list | tuple):
        return " / ".join(str(v) for v in value) or t.label("none")
    return str(value)


def plan_rows(plan: NegotiationPlan | None, t: Translator) -> dict[str, PlanRow]:
    """The plan's target and limit of each negotiable term, written for the reader (the plan
    stores them in its own language; the figures are formatted again here)."""
    if plan is None:
        return {}
    targets = plan.targets.as_json()
    rows: dict[str, PlanRow] = {}
    for term in plan.terms:
        target = _display(term.clause, targets.get(term.clause), plan.currency, t)
        kind = term.limit_kind
        if kind is None:
            limit = t.gettext("no limit: the parties' to agree")
        elif kind in (LimitKind.AT_MOST, LimitKind.AT_LEAST) and term.limit_value is not None:
            value = _limit_value(term.clause, term.limit_value, plan.currency, t)
            limit = f"{t.label('limit_' + kind.value)} {value}"
        elif kind is LimitKind.AS_TODAY and term.accepted_texts:
            limit = f"{t.label('limit_as_today')}: " + " / ".join(term.accepted_texts)
        else:
            limit = t.label("limit_" + kind.value)
        reasons = tuple(r.text(t.language) for r in term.limit_reasons)
        rows[term.clause] = PlanRow(target=target, limit=limit, reasons=reasons)
    return rows


def _limit_value(clause: str, value: Decimal, currency: str, t: Translator) -> str:
    if clause == "payment_terms":
        return t.days(int(value))
    return _display(clause, value, currency, t)
