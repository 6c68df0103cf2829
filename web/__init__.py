"""Server-rendered pages for legal reviewers and managers: Jinja2 templates, one stylesheet,
no JavaScript. Every form carries a CSRF token."""
