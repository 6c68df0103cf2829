"""Who may do what: password hashing, roles and their permissions (no I/O here)."""
