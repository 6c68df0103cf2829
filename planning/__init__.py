"""Pure, deterministic date logic shared by workflows, the CLI and the API."""
