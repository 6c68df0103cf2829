"""The engine's calendar day: one "today" for every view of a contract."""

from datetime import UTC, date, datetime


def today() -> date:
    """Today as the renewals count it: the UTC date, which is what each workflow's
    ``workflow.now()`` gives when it plans and runs its milestones. The web pages, the API and
    the command line all ask here, so a command run in Tokyo at 08:00 on the 2nd counts days
    left, previews plans and stores them on the 1st, as the pages and the workflows do."""
    return datetime.now(UTC).date()
