"""Keyword-only service functions shared by the API and the web pages."""
