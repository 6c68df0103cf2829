"""Fault-injection helpers for tests/test_faults.py (processes that crash on purpose)."""
