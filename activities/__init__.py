"""Temporal activities: the workflow's only way to the world. Each one reads and writes through
:mod:`store`, decides through :mod:`domain`, and turns failures into Temporal's terms
(:mod:`activities.failures`); drafts and mails are rendered from the Jinja2 templates here
(:mod:`activities.drafting`)."""

__all__ = [
    "notifications",  # mail through the outbox
    "planning_activities",  # the term's plan and review deadlines, with business calendars
    "renewal_activities",  # contract, scorecard, drafts, reviews, events, amendments, outcome
    "sweep_activities",  # the daily sweep's pages and starts
]
