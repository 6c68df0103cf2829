"""Server-rendered pages, in Japanese and English: the buyers' workspace (pipeline, exposure,
contract, actions, imports, suppliers, account) and legal's review queue and draft page.
Jinja2 templates per area with Babel catalogs, one stylesheet, no JavaScript; every form
carries a CSRF token."""

from fastapi import APIRouter

from web import account, actions, contract, imports, pipeline, routes, supplier

__all__ = ["ROUTERS", "error_page"]

error_page = routes.error_page

# routes first: its "/" and sign-in come before any area's paths.
ROUTERS: tuple[APIRouter, ...] = (
    routes.router,
    pipeline.router,
    contract.router,
    actions.router,
    imports.router,
    supplier.router,
    account.router,
)
