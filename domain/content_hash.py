"""The fingerprint of a version: what legal approved and the supplier agreed is fixed to exactly
this text, HTML and terms. It is recomputed from what is stored whenever a version is put into
force, so an edit behind the application's back cannot pass as the approved content."""

import hashlib
import json
from typing import Any


def content_hash(body: str, proposed_terms: dict[str, Any], body_html: str | None = None) -> str:
    """SHA-256 over the canonical JSON of the text, the HTML and the terms. Drafts stored before
    HTML renderings existed were hashed without it, and still verify."""
    content: dict[str, Any] = {"body": body, "terms": proposed_terms}
    if body_html is not None:
        content["html"] = body_html
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
