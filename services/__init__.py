"""Actions on behalf of a signed-in person, as keyword-only functions shared by the HTTP API,
the web pages and the CLI: the interfaces stay thin and agree on every rule."""

__all__ = [
    "account_announcements",  # account changes audited and mailed to the legal lead
    "audit",  # the audit trail as people read and export it
    "calendar_feed",  # .ics feeds of milestones
    "contracts",  # contracts and suppliers, one at a time
    "db",  # the unit of work the interfaces hold
    "drafts",  # versions as people read and compare them
    "imports",  # files of contracts, suppliers, deliveries, tickets, prices, market data
    "negotiation",  # edited versions, offers, supplier answers, hearings; the negotiation view
    "negotiation_checks",  # what those check before the workflow is asked
    "notices",  # the recorded dispatch of an approved non-renewal notice
    "ownership",  # the ownership rule applied to stored contracts
    "plans",  # previews of plans for files not imported yet
    "renewal_detail",  # everything about one renewal term
    "renewals",  # start, amend, cancel, redraft, decide, status
    "scorecards",  # a scorecard preview
    "teams",  # teams and their members
    "users",  # accounts, tokens, sign-in
]
