"""Issue 14, "every finding above gets its regression test": the hardening findings of "What is
wrong today", each with the tests that fail should it come back. This docstring is the table;
``test_every_finding_names_tests_that_exist`` reads it and checks that every test it names is
still there, so a renamed or deleted regression test fails here.

Sign-in throttle: 30 simultaneous wrong passwords got 19 password checks.
    test_sign_in_throttle.py::test_thirty_simultaneous_wrong_passwords_through_the_served_app
        [sqlite, postgres]
    test_sign_in_throttle.py::test_thirty_simultaneous_guesses_get_five_password_checks
        [sqlite, postgres]
    test_sign_in_throttle.py::test_the_right_password_is_not_checked_while_locked
        [sqlite, postgres]

Sign-in throttle: anyone could keep a user locked out (now keyed by name and client address,
with a growing delay; a spoofed X-Forwarded-For is no new address).
    test_sign_in_throttle.py::test_thirty_simultaneous_wrong_passwords_through_the_served_app
        [sqlite, postgres]
    test_sign_in_throttle.py::test_an_outsider_cannot_lock_the_owner_out
        [sqlite, postgres]
    test_sign_in_throttle.py::test_each_lockout_in_a_row_lasts_twice_as_long
        [sqlite, postgres]
    test_sign_in_throttle.py::test_the_form_locks_a_name_for_the_guessing_address_only
    test_sign_in_throttle.py::test_a_trusted_proxy_names_the_client

Sign-in throttle: each failure added an audit row without bound (now one per lockout).
    test_sign_in_throttle.py::test_thirty_simultaneous_wrong_passwords_through_the_served_app
        [sqlite, postgres]
    test_sign_in_throttle.py::test_guessing_does_not_grow_the_audit_trail
        [sqlite, postgres]
    test_sign_in_throttle.py::test_throttle_rows_that_mean_nothing_are_dropped

CLI: with users in the database, suppliers import, export, schedule create and schedule trigger
needed no token and left no audit entry.
    test_cli_acting_user.py::test_without_a_token_the_command_is_refused_and_nothing_is_stored
        [suppliers import, export, schedule create, schedule trigger]
    test_cli_acting_user.py::test_an_unknown_token_is_refused
        [suppliers import, export, schedule create, schedule trigger]
    test_cli_acting_user.py::test_a_token_without_the_permission_is_refused_and_nothing_is_stored
        [suppliers import, export, schedule create, schedule trigger]
    test_cli_acting_user.py::test_the_right_token_works_and_one_entry_names_its_owner
        [suppliers import, export, schedule create, schedule trigger]

Input: JSON nested 100,000 levels, or an integer of 5,000 digits, answered a plain-text 500 and
reset the connection (now a 422 problem naming the limit; no request answers a plain 500).
    test_schemathesis.py::test_deep_json_and_huge_integers_get_a_422_problem
    test_schemathesis.py::test_every_json_body_operation_is_covered
    test_schemathesis.py::test_a_100000_level_body_on_a_raw_socket_gets_its_answer
        [content-length, chunked]
    test_schemathesis.py::test_an_integer_parameter_of_5000_digits_is_a_422_naming_it
    test_schemathesis.py::test_no_server_error
    test_hardening.py::test_every_json_operation_refuses_deep_json_and_huge_integers
    test_hardening.py::test_nothing_answers_a_5xx_to_malformed_json
    test_hardening.py::test_an_unexpected_error_is_a_problem_not_a_plain_500
    test_hardening_findings.py::test_the_web_pages_refuse_deep_json_and_huge_integers_too

/docs loaded Swagger UI from a CDN, outside the CSP (now /docs and /redoc are off).
    test_hardening.py::test_no_docs_pages_and_the_policy_holds_everywhere

Titles could hold line breaks (a mail subject stops at the first); owner took
"a@example.com, b@evil.example" and mail went to both.
    test_contract_validation.py::test_a_title_is_one_line
    test_contract_validation.py::test_the_owner_is_exactly_one_address
    test_contract_validation.py::test_supplier_names_are_one_line
    test_hardening.py::test_import_refuses_multi_line_titles_and_owner_lists
    test_bad_input_catalogue.py::test_catalogue
        [newline-in-quoted-title, line-separator-in-title, two-owners]

scrypt at N=2^14 (now N=2^17, an older hash replaced at the next sign-in).
    test_hardening.py::test_passwords_are_hashed_at_owasp_cost_and_old_hashes_still_verify
    test_hardening.py::test_signing_in_upgrades_an_old_hash

The session cookie was not Secure, and there was no HSTS (now both over HTTPS, directly or
through a trusted proxy, RENEWALS_WEB_TRUST_PROXY).
    test_hardening.py::test_https_gets_a_secure_cookie_and_hsts
    test_hardening.py::test_a_proxy_says_https_only_when_trusted
    test_hardening.py::test_cookie_secure_forces_the_flag
    test_hardening_findings.py::test_hsts_zero_sends_none
    test_sign_in_throttle.py::test_a_trusted_proxy_names_the_client

The SQLite files were world-readable (now 0600, and 0700 for a data folder we create).
    test_hardening.py::test_sqlite_files_are_private
    test_hardening.py::test_renewals_dev_creates_its_data_dir_private

renewals dev left payload encryption off (now it makes a key, 0600, and every process with
that data folder uses it).
    test_payload_codec.py::test_key_file_is_made_once_0600_and_reused
    test_payload_codec.py::test_a_looser_key_file_is_tightened
    test_payload_codec.py::test_a_corrupt_key_file_is_refused_naming_the_file
    test_payload_codec.py::test_settings_win_over_the_key_file_which_every_process_reads
    test_devstack.py::test_renewals_dev_starts_the_stack_and_stops_cleanly

Failures were not encrypted (now messages and stack traces go through the codec).
    test_payload_codec.py::test_settings_turn_encryption_on
    test_payload_codec.py::test_failure_messages_and_stack_traces_are_encrypted
"""

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from config.settings import Settings
from portal.config import WebSettings
from portal.deps import SESSION_COOKIE
from portal.limits import MAX_JSON_DEPTH
from store.db import SessionFactory
from tests.portal_fixtures import seed_people

TESTS = Path(__file__).resolve().parent
# "    test_file.py::test_name", then optionally "        [case, case]" on the next line.
NAMED = re.compile(r"^ {4}(test_\w+\.py)::(\w+)$(?:\n {8}\[([^\]]*)\]$)?", re.M)
# [sqlite, postgres]: the test runs on both databases through the ``database`` fixture.
ON_BOTH_DATABASES = {"sqlite", "postgres"}


def _functions(path: Path) -> dict[str, set[str]]:
    """The functions of a module, with their arguments (the fixtures a test asks for)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: {a.arg for a in node.args.args + node.args.kwonlyargs}
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_finding_names_tests_that_exist() -> None:
    doc = __doc__ or ""
    named = NAMED.findall(doc)
    assert len(named) >= 40, named
    findings = [block for block in doc.split("\n\n")[1:] if NAMED.search(block)]
    assert len(findings) == 12  # the hardening findings of the issue, each with its tests
    for file, name, params in named:
        path = TESTS / file
        assert path.is_file(), file
        functions = _functions(path)
        assert name in functions, f"{file}::{name} is gone"
        source = path.read_text(encoding="utf-8")
        cases = {p.strip() for p in params.split(",") if p.strip()}
        if cases & ON_BOTH_DATABASES:
            assert cases >= ON_BOTH_DATABASES, (file, name, cases)
            assert functions[name] & {"database", "db_sessions"}, f"{name}: not on both"
        for case in cases - ON_BOTH_DATABASES:  # a parametrised case: its literal is there
            assert f'"{case}"' in source, f"{file}::{name}[{case}]: no such case"


# ---------------------------------------------------------------------------- the web pages


@pytest.fixture
def tokens_and_cookies(
    sessions: SessionFactory,
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    return seed_people(sessions)


@pytest.fixture
async def web(
    sqlite_url: str, sqlite_engine: Engine, sessions: SessionFactory, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=sqlite_url, temporal_search_attributes=False)
    app = create_app(
        settings.model_copy(update={"data_dir": tmp_path}),
        web_settings=WebSettings(),
        sessions=sessions,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_web_pages_refuse_deep_json_and_huge_integers_too(
    web: httpx.AsyncClient, tokens_and_cookies: tuple[dict[str, str], dict[str, tuple[str, str]]]
) -> None:
    """The pages are not in the OpenAPI schema, so schemathesis never sees them: the body check
    holds for them too, and their integer path and query parameters are bounded."""
    _tokens, cookies = tokens_and_cookies
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/login", "/logout", "/reviews/ST-1/1/1/decision"):
        refused = await web.post(path, content=deep, headers={"content-type": "application/json"})
        assert refused.status_code == 422, (path, refused.text[:300])
        assert refused.headers["content-type"] == "application/problem+json"
        assert f"nested more than {MAX_JSON_DEPTH} levels" in refused.json()["detail"]
    huge = "9" * 5000
    secret, _csrf = cookies["legal"]
    web.cookies.set(SESSION_COOKIE, secret)
    for path in (
        f"/reviews?offset={huge}",
        f"/reviews/ST-1/{huge}/1",
        f"/reviews/ST-1/1/{huge}",
        f"/reviews/ST-1/1/1?compare={huge}",
    ):
        page = await web.get(path)
        assert page.status_code == 422, (path, page.status_code, page.text[:300])


# ---------------------------------------------------------------------------- HTTPS


async def test_hsts_zero_sends_none(
    sqlite_url: str, sqlite_engine: Engine, sessions: SessionFactory, tmp_path: Path
) -> None:
    settings = Settings(database_url=sqlite_url, temporal_search_attributes=False)
    settings = settings.model_copy(update={"data_dir": tmp_path})
    answers = {}
    for max_age in (0, 600):
        app = create_app(
            settings, web_settings=WebSettings(hsts_max_age_seconds=max_age), sessions=sessions
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://r.example") as http:
            answers[max_age] = await http.get("/login")
    assert "strict-transport-security" not in answers[0].headers
    assert answers[600].headers["strict-transport-security"] == "max-age=600"
