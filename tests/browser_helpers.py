"""What the workspace's browser tests share: axe-core run in a page, the findings written where
the pages' owners read them, full-page screenshots, and whether a page's route exists yet.

axe-core comes from the npm registry (tests/browser/package.json, installed by ``.ci/run``
with ``npm ci --prefix tests/browser``). The pages' CSP forbids script tags, so axe is
evaluated through the DevTools protocol (``page.evaluate``), which the CSP does not govern:
the page itself still runs no script of its own.
"""

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match

__all__ = [
    "AXE_SOURCE",
    "BLOCKING_IMPACTS",
    "FINDINGS_FILE",
    "Finding",
    "axe_findings",
    "record_findings",
    "route_exists",
    "screenshot_dir",
    "shot_name",
]

AXE_SOURCE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
FINDINGS_FILE = Path(os.environ.get("RENEWALS_AXE_FINDINGS", "/tmp/axe_findings.md"))

# The sandboxed letter frame on the draft page runs no script, so axe cannot enter it: axe
# checks the page around it, and the frame's own title (frame-title) still counts.
_AXE_RUN = """async () => {
  const result = await axe.run(document, {
    iframes: false,
    resultTypes: ["violations"],
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 200),
                              impact: n.impact}))
  }));
}"""


@dataclass(frozen=True)
class Finding:
    page: str
    rule: str
    element: str
    impact: str
    help: str

    def line(self) -> str:
        return f"- {self.page} | {self.rule} | `{self.element}` | {self.impact} | {self.help}"


async def axe_findings(page: Any, label: str) -> list[Finding]:
    """Every axe violation on the page as it stands, one per element."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = await page.evaluate(_AXE_RUN)
    return [
        Finding(label, v["id"], n["target"], n.get("impact") or v["impact"] or "", v["help"])
        for v in violations
        for n in v["nodes"]
    ]


def record_findings(findings: list[Finding]) -> None:
    """Appends the blocking findings for the pages' owners, once per page, rule and element."""
    blocking = [f for f in findings if f.impact in BLOCKING_IMPACTS]
    if not blocking:
        return
    known = FINDINGS_FILE.read_text(encoding="utf-8") if FINDINGS_FILE.exists() else ""
    new = [f.line() for f in blocking if f.line() not in known]
    if new:
        with FINDINGS_FILE.open("a", encoding="utf-8") as out:
            out.write("\n".join(new) + "\n")


def screenshot_dir() -> Path:
    where = os.environ.get("RENEWALS_SCREENSHOTS")
    path = Path(where) if where else Path(tempfile.gettempdir()) / "renewals-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot_name(role: str, lang: str, url: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.strip("/")).strip("-") or "home"
    return f"{role}-{lang}-{slug}.png"


def route_exists(app: FastAPI, path: str, method: str = "GET") -> bool:
    """Whether the app has a route for this path: a page another engineer has not landed yet
    is reported as missing, not taken for a failure."""
    scope = {
        "type": "http",
        "path": path.split("?", 1)[0],
        "method": method,
        "root_path": "",
        "path_params": {},
        "headers": [],
    }
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)
