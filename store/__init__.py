"""SQL through SQLAlchemy, and nothing else: one transaction helper (:mod:`store.db`), the
writes of each concept, and in :mod:`store.reads` the read models people look at."""

__all__ = [
    "aggregates",  # the figures behind a scorecard, counted by the database
    "assessment",  # the scorecard of a contract as of a day (facts read, rules applied)
    "audit",  # the append-only audit trail
    "contracts",  # contracts and suppliers
    "db",  # engines, sessions, the one transaction helper, insert-if-absent
    "identity",  # spent identity assertions
    "outbox",  # mail before it is sent
    "plans",  # the stored plan of each term
    "reads",  # read models for people
    "records",  # bulk writes and reads of imports and exports
    "renewals",  # renewals, scorecards, drafts, reviews, events, catch-up
    "sign_in_throttle",  # the sign-in throttle's counters
    "sweep",  # the daily sweep's candidate pages
    "teams",  # teams, members and the facts ownership needs
    "users",  # accounts, tokens, web sessions
]
