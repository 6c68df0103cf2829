"""All I/O: the database, templates, notifications. Temporal activities live in
:mod:`activities.renewal_activities`; the other modules are plain keyword-only service functions
that the CLI and API call directly too."""
