"""Deterministic orchestration. Nothing here does I/O; see workflows/ruff.toml for the bans."""
