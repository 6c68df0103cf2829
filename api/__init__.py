"""The HTTP API (FastAPI) and the application factory that also serves the web pages."""
