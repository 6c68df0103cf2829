"""The message catalogs of the pages, one Babel domain per area of the workspace.

An area is a folder of templates, ``web/templates/<area>/``, and the Python modules that build
its pages, ``web/<area>.py`` and ``web/<area>_*.py`` (``common`` also takes the sign-in,
review and dashboard routes). Each area's catalog is ``web/locale/<lang>/LC_MESSAGES/<area>.po``
and its compiled ``.mo`` ships in the package; areas keep people who work on different pages
out of each other's catalogs.

    python -m web.catalogs update [AREA...]    # extract the areas' messages into their .po files
    python -m web.catalogs compile [AREA...]   # .po -> .mo
    python -m web.catalogs check [AREA...]     # exit 1: a message untranslated, fuzzy, stale .mo

Without AREA, every area.

``check`` runs in the tests (tests/test_i18n_catalogs.py).
"""

import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

__all__ = ["TRANSLATED", "areas", "check", "compile_all", "extract", "main", "update"]

WEB = Path(__file__).resolve().parent
TEMPLATES = WEB / "templates"
LOCALE = WEB / "locale"
TRANSLATED = ("ja",)  # English is the msgids themselves
_COMMON_MODULES = ("routes.py", "pages.py", "i18n.py")
_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_COMPILE = "python -m web.catalogs compile"
_JINJA = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def areas() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _sources(area: str) -> Iterator[tuple[Path, str]]:
    for template in sorted((TEMPLATES / area).glob("*.html")):
        yield template, "jinja2.ext:babel_extract"
    names = [f"{area}.py", *(p.name for p in sorted(WEB.glob(f"{area}_*.py")))]
    if area == "common":
        names += list(_COMMON_MODULES)
    for name in names:
        if (WEB / name).is_file():
            yield WEB / name, "python"


def extract(area: str) -> Catalog:
    """The messages the area's templates and modules use, with where each is used."""
    template = Catalog(project="contract-renewals", domain=area, fuzzy=False)
    for path, method in _sources(area):
        options = _JINJA if method != "python" else {}
        for lineno, message, comments, context in extract_from_file(
            method, str(path), keywords=_KEYWORDS, options=options
        ):
            location = (str(path.relative_to(WEB)), lineno)
            template.add(message, None, [location], auto_comments=comments, context=context)
    return template


def _po_path(language: str, area: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{area}.po"


def _read(path: Path, language: str, area: str) -> Catalog:
    if not path.exists():
        return Catalog(locale=language, domain=area, project="contract-renewals", fuzzy=False)
    with path.open("rb") as fp:
        return read_po(fp, locale=language, domain=area)


def update(only: list[str] | None = None) -> None:
    for area in only or areas():
        template = extract(area)
        for language in TRANSLATED:
            path = _po_path(language, area)
            catalog = _read(path, language, area)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.fuzzy = False
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fp:
                write_po(fp, catalog, width=100, omit_header=False, ignore_obsolete=True)


def compile_all(only: list[str] | None = None) -> None:
    for language in TRANSLATED:
        for po in sorted((LOCALE / language / "LC_MESSAGES").glob("*.po")):
            if only and po.stem not in only:
                continue
            catalog = _read(po, language, po.stem)
            with po.with_suffix(".mo").open("wb") as fp:
                write_mo(fp, catalog, use_fuzzy=False)


def check(only: list[str] | None = None) -> list[str]:
    """What is wrong with the catalogs: each message an area uses and its language lacks (or
    has only fuzzy), and each .mo older in content than its .po."""
    problems = []
    for area in only or areas():
        used = extract(area)
        for language in TRANSLATED:
            po = _po_path(language, area)
            catalog = _read(po, language, area)
            for message in used:
                if not message.id:
                    continue
                found = catalog.get(message.id, context=message.context)
                where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
                if found is None or found.fuzzy or not _translated(found.string):
                    problems.append(f"{language}/{area}: untranslated {message.id!r} ({where})")
            mo = po.with_suffix(".mo")
            if not mo.exists():
                problems.append(
                    f"{language}/{area}: {mo.name} missing (python -m web.catalogs compile)"
                )
                continue
            with mo.open("rb") as fp:
                compiled = read_mo(fp)
            expected = io.BytesIO()
            write_mo(expected, catalog, use_fuzzy=False)
            expected.seek(0)
            if _messages(compiled) != _messages(read_mo(expected)):
                problems.append(
                    f"{language}/{area}: {mo.name} is stale (python -m web.catalogs compile)"
                )
    return problems


def _frozen(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _messages(catalog: Catalog) -> dict[object, object]:
    """Message id -> translation; a plural's id and strings are lists, made hashable."""
    return {_frozen(m.id): _frozen(m.string) for m in catalog if m.id}


def _translated(string: object) -> bool:
    if isinstance(string, tuple):
        return all(bool(s) for s in string)
    return bool(string)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    only = argv[1:] or None
    unknown = sorted(set(only or ()) - set(areas()))
    if unknown:
        print(f"unknown area(s): {', '.join(unknown)}; the areas are {', '.join(areas())}")
        return 2
    if command == "update":
        update(only)
    elif command == "compile":
        compile_all(only)
    elif command == "check":
        problems = check(only)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
