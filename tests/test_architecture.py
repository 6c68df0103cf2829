"""The house rules that import-linter cannot see: what a module in activities/ is for, how
large one file may grow, and which names each package offers the others."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import activities

ROOT = Path(__file__).resolve().parent.parent

# activities/ holds Temporal activities; these two modules are the adapters they share (the
# Jinja2 rendering of drafts, and the translation of failures into Temporal's terms).
ACTIVITY_HELPERS = {"activities.drafting", "activities.failures"}

# One concept per file, and a file a reader can hold in their head. The renewal workflow is
# the one exception: it is a single durable state machine, and its history must replay.
MAX_LINES = 500
LONGER_ALLOWED = {"workflows/contract_renewal.py"}
PRODUCT_PACKAGES = (
    "activities", "api", "auth", "cli", "clients", "config", "domain", "models", "portal",
    "services", "store", "web", "workflows",
)  # fmt: skip


def _activity_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(activities.__path__, prefix="activities.")
        if not m.ispkg
    )


def _defines_activity(module_name: str) -> bool:
    """An @activity.defn function, or a class with one as a method, defined in the module."""
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if getattr(value, "__module__", None) != module_name:
            continue
        members = list(vars(value).values()) if isinstance(value, type) else [value]
        if any(hasattr(m, "__temporal_activity_definition") for m in members):
            return True
    return False


@pytest.mark.parametrize("module_name", _activity_modules())
def test_every_module_in_activities_defines_an_activity(module_name: str) -> None:
    if module_name in ACTIVITY_HELPERS:
        assert not _defines_activity(module_name), f"{module_name} is listed as a helper"
        return
    assert _defines_activity(module_name), (
        f"{module_name} defines no @activity.defn: plain functions belong in domain/ (rules), "
        "store/ (SQL) or services/ (what people do)"
    )


def test_the_helper_list_names_existing_modules() -> None:
    assert set(_activity_modules()) >= ACTIVITY_HELPERS


def _product_files() -> list[Path]:
    return sorted(p for pkg in PRODUCT_PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_outgrows_one_concept() -> None:
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in _product_files()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and str(p.relative_to(ROOT)) not in LONGER_ALLOWED
    }
    assert not too_long, f"split these by concept (over {MAX_LINES} lines): {too_long}"


def _declared_all(init: Path) -> list[str] | None:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return list(value)
    return None


@pytest.mark.parametrize("package", ["domain", "store", "store.reads", "services", "activities"])
def test_layer_packages_declare_their_public_surface(package: str) -> None:
    init = ROOT / package.replace(".", "/") / "__init__.py"
    names = _declared_all(init)
    assert names, f"{package}/__init__.py has no __all__"
    for name in names:
        importlib.import_module(f"{package}.{name}")


def _calls_of_today(tree: ast.AST) -> list[int]:
    """Lines calling ``date.today()`` or a ``datetime.now()`` without a time zone."""
    lines: list[int] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else None
        local_date = name == "date" and node.func.attr == "today"
        zoneless = name == "datetime" and node.func.attr in ("today", "now") and not node.args
        if local_date or zoneless:
            lines.append(node.lineno)
    return lines


def test_every_view_counts_today_as_the_workflows_do() -> None:
    """One "today" (config.clock.today, the UTC date a workflow's clock gives): a local
    ``date.today()`` in a command or a store default would count days left, preview plans and
    store them a day apart from the pages and the workflows for part of every day."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _calls_of_today(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], f"use config.clock.today(): {found}"
