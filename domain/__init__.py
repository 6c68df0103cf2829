"""The renewal's rules, pure: no I/O, no clock, no framework. Dates, plans, scores, terms and
the words people read are decided here, once, for the workflow, the activities and every
interface."""

__all__ = [
    "account_changes",  # the words of an account-change announcement
    "agreement",  # offers, supplier answers, agreement on one hash
    "calendars",  # business days: holidays, weekends, closures
    "content_hash",  # the fingerprint of a version
    "followup",  # follow-up reviews during a term: their dates and checks
    "glossary",  # the glossary's words for every stored code
    "identity",  # signed identity assertions: what proves who decided
    "market",  # market signals of a category
    "milestones",  # the milestone plan of a term from its dates
    "negotiation",  # the negotiation plan: targets and limits
    "outcome",  # end-of-term dates by outcome
    "ownership",  # whose contracts a person may change
    "phrase_table",  # the engine's sentences by code, in English and Japanese
    "phrases",  # the bilingual words and numbers people read
    "provenance_words",  # where each date of a plan comes from, in words
    "reason_table",  # escalation, outcome and withdrawal reasons by code
    "reasons",  # a reason code and its values in the reader's language
    "recommendation",  # renew, renegotiate, re-tender, terminate
    "relationship",  # the relationship KPI from follow-up reviews
    "review",  # segregation of duties: who may approve
    "scoring",  # KPIs, weights, grades
    "series",  # small dated series and their windows
    "sweep",  # which contracts the scheduled sweep starts a renewal for
    "term_plan",  # the one plan of a contract term, calendars applied
    "terms",  # proposed terms and their changes
    "versions",  # versions made by people: edits and comparisons
    "weighting",  # the weighted total over the KPIs with a score, the grade
]
