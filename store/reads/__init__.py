"""Read models for people. The interfaces may read these directly; every change goes through
:mod:`services`."""

__all__ = [
    "dashboard",  # contracts by stage, expiring soon, suppliers' scores
    "pipeline",  # every contract with its stage, next milestone, deadlines and score
    "plans",  # the plan a view shows for a term: the stored one, else a labelled preview
    "renewals",  # one renewal's record, its terms, and a contract's current plan
    "reviews",  # the legal review queue
    "suppliers",  # suppliers
]
