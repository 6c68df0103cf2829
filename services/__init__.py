"""Actions on behalf of a signed-in person, as keyword-only functions shared by the HTTP API,
the web pages and the CLI: the interfaces stay thin and agree on every rule."""
