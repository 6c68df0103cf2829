"""Every reason the import gives for a refused file of the bad-input catalogue
(tests/test_bad_input_catalogue.py) reads in Japanese on a Japanese page: no English sentence
left for the reader (web/imports_reasons.py, catalog web/locale/ja/LC_MESSAGES/imports.po)."""

import re
import uuid
from pathlib import Path

import pytest

from migrations.runner import upgrade
from models.errors import InvalidInput
from services.imports import FileProblem, ImportKind, import_records
from store.db import make_engine, make_session_factory, transaction
from tests.test_bad_input_catalogue import CASES, Refused
from web.i18n import Translator
from web.imports_reasons import explain

REFUSED = [c for c in CASES if isinstance(c.outcome, Refused)]
JA = Translator(language="ja", area="imports")
# An English phrase: two words in a row. Values quoted back (ids, column lists, codes such as
# JPY or YYYY-MM-DD) are single tokens or lists, never a phrase.
_ENGLISH = re.compile(r"\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")


def _reasons(tmp_path: Path, case_body: bytes, as_json: bool) -> list[str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        import_records(s, kind=ImportKind.SUPPLIERS, source=b"id,name\nS-1,Paper\nS-2,Ink\n")
    try:
        with transaction(sessions) as s:
            import_records(
                s,
                kind=ImportKind.CONTRACTS,
                source=case_body,
                file_format="json" if as_json else "csv",
                dry_run=True,
            )
    except InvalidInput as exc:
        return [e.reason for e in exc.errors]
    except FileProblem as exc:
        return [str(exc)]
    finally:
        engine.dispose()
    return []


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_every_refusal_reads_in_japanese(tmp_path: Path, case: object) -> None:
    body = case.body(f"J{uuid.uuid4().hex[:5]}")  # type: ignore[attr-defined]
    reasons = _reasons(tmp_path, body, case.json)  # type: ignore[attr-defined]
    assert reasons, "the case was not refused"
    for reason in reasons:
        said = explain(reason, JA)
        assert said.language == "ja", f"left in English: {reason!r}"
        # The values quoted back stay as typed; the words around them are Japanese.
        words = re.sub(r"「[^」]*」|'[^']*'|\S+@\S+|U\+[0-9A-F]+", "", said.text)
        assert not _ENGLISH.search(words), f"English words in {said.text!r}"
