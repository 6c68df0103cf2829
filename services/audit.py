"""The audit trail as people read and export it, and the entries the interfaces write for the
actions they carry out (sign-in, imports, exports)."""

from store.audit import AuditAction, AuditEntry, iter_entries, list_entries, record, write_csv

__all__ = ["AuditAction", "AuditEntry", "iter_entries", "list_entries", "record", "write_csv"]
