"""The published API description: every route documented from its schemas, served at
/openapi.json and readable at /docs, and the API fuzzed against it by schemathesis (no 5xx,
every answer as documented).

OPENAPI_EXAMPLES (default 150) bounds the cases per operation; OPENAPI_ONLY, a regex on the
path, narrows the fuzzing to some routes (for working on them); OPENAPI_STATS=1 prints what
each operation's calls were answered (with -s)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from werkzeug.routing import Rule

from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.clock import ManualClock
from tests.conftest import drop_postgres_schema, fresh_postgres_schema
from tests.e2e import openapi_seeds
from tests.helpers import basic, ping
from web.app import create_app as create_web_app
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config
from web.openapi import SPECIFIED_BLUEPRINTS

EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "150"))
ONLY = os.environ.get("OPENAPI_ONLY")

# Real path parameters, so the fuzzing reaches what exists and not only 404s: an area's seed
# makes some data through the API and says its ids, as {param name: value}.
# Names are path or query parameters; `body.<field>` fills that field of generated bodies.
Seed = Callable[[FlaskClient, dict[str, str]], dict[str, Any]]
SEEDS: dict[str, Seed] = {**openapi_seeds.SEEDS}
KNOWN: dict[tuple[str, str], Any] = {}
STATUSES: dict[str, Counter[int]] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, dict[str, str]]]:
    """One Parley (projections and reactions in process) with some data to find: an admin
    (ann@acme.io), three users (u0..u2), and what each area's seed adds."""
    where = tmp_path_factory.mktemp("openapi")
    database_url, schema = f"sqlite:///{where}/parley.db", None
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        database_url, schema = fresh_postgres_schema(server)
    KNOWN.clear()
    config = Config(
        database_url=database_url,
        secret_key="test",
        outbox_dir=f"{where}/outbox",
        sweep_seconds=0,
        rate_limit_per_minute=1_000_000,
        widget_conversations_per_hour=1_000_000,
    )
    migrate(config)
    services: Services = bootstrap(config, ManualClock())
    made = create_app(CreateApp("Acme"), services.store, services.clock)
    add_admin(AddAdmin(made.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    for n in range(3):
        ping(services, made.app_id, {"user_id": f"u{n}", "email": f"u{n}@example.com"})
    services.runner.start()
    web = create_web_app(services=services, follow=True)
    web.config["PARLEY_TEST_BACKEND"] = request.param
    auth = basic(made)
    # The snippet names its app and user in the body.
    KNOWN.update({("widget", "body.app_id"): made.app_id, ("widget", "body.user_id"): "u0"})
    client = web.test_client()
    for area in AREAS:
        seeded = SEEDS.get(area)
        if seeded is not None:
            KNOWN.update({(area, name): value for name, value in seeded(client, auth).items()})
    yield web, auth
    for follower in web.extensions["parley_followers"]:
        follower.stop()
    web.extensions["parley_jobs"].stop()
    web.extensions["parley_live"].stop()
    services.close()
    if schema is not None:
        drop_postgres_schema(server, schema)


def body_fields(document: dict[str, Any], operation: Any) -> set[str]:
    """The fields of the operation's JSON body, as the document declares them."""
    method = operation.method.lower()
    body = document["paths"][operation.path][method].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema.get("properties", {}))


def filled(case: Any, fills: dict[str, Any]) -> Any:
    """The case with the real values of the body's fields an area's seed named."""
    if isinstance(case.body, dict):
        case.body.update(fills)
    return case


def documented_rules(app: Flask) -> Iterator[tuple[Rule, Any]]:
    """Each route the document must describe, with its view."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in SPECIFIED_BLUEPRINTS:
            yield rule, app.view_functions[rule.endpoint]


def test_every_api_and_widget_route_is_documented_with_its_schemas(
    served: tuple[Flask, dict[str, str]],
) -> None:
    app, _auth = served
    rules = list(documented_rules(app))
    assert len(rules) > 60
    missing = [f"{r.rule} ({r.endpoint})" for r, view in rules if not hasattr(view, "__apidoc__")]
    assert not missing, "routes without @answers: " + ", ".join(missing)
    for r, view in rules:
        rule, endpoint, doc = r.rule, r.endpoint, view.__apidoc__
        assert doc.summary, f"{rule} has no summary (the view's docstring)"
        assert doc.responses, rule
        json_answers = [s for s in doc.responses.values() if s is not None]
        assert (
            json_answers
            or doc.media != "application/json"
            or 204 in doc.responses
            or 202 in doc.responses
        ), f"{rule} ({endpoint}) documents no answer schema"


def test_the_document_is_valid_openapi_3_1_and_names_every_route(
    served: tuple[Flask, dict[str, str]],
) -> None:
    app, _auth = served
    document = app.test_client().get("/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    validate_openapi(document)
    paths = document["paths"]
    for rule, view in documented_rules(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        doc = view.__apidoc__
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = paths.get(path, {}).get(method.lower())
            assert operation is not None, f"{method} {path} is not in /openapi.json"
            for status in doc.responses:
                assert str(status) in operation["responses"], (method, path, status)
    assert paths["/users"]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(
    served: tuple[Flask, dict[str, str]],
) -> None:
    app, _auth = served
    client = app.test_client()
    document = client.get("/openapi.json").get_json()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path, operations in document["paths"].items():
        for method in operations:
            assert f'id="{operations[method]["operationId"]}"' in html, (method, path)
    external = re.findall(r'(?:src|href)="(https?:)?//', html)
    assert not external, "the docs page loads something from another site"


# -- schemathesis ---------------------------------------------------------------------------
# Each area of the API (the first part of its paths, the document's tags) is fuzzed in its
# own test; a test below fails when the document has an area this list does not fuzz.
AREAS = [
    "admins",
    "auto_messages",
    "bulk",
    "companies",
    "conversations",
    "counts",
    "docs",
    "email",
    "events",
    "jobs",
    "messages",
    "notes",
    "openapi",
    "segments",
    "subscriptions",
    "tags",
    "users",
    "widget",
]
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(served: tuple[Flask, dict[str, str]]) -> Any:
    app, _auth = served
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_every_area_of_the_document_is_fuzzed(served: tuple[Flask, dict[str, str]]) -> None:
    app, _auth = served
    document = app.test_client().get("/openapi.json").get_json()
    tags = {
        t
        for operations in document["paths"].values()
        for o in operations.values()
        for t in o["tags"]
    }
    assert tags == set(AREAS)


@pytest.mark.parametrize("area", AREAS)
def test_the_api_answers_as_documented_whatever_it_is_sent(
    area: str, api_schema: Any, served: tuple[Flask, dict[str, str]]
) -> None:
    """A few hundred generated calls per operation (seeded, so a run repeats): no 5xx, and
    every answer's status, media type and body are as the document says."""
    app, auth = served
    # PostgreSQL's own limits (integer widths, text it refuses) with a third of the cases.
    examples = EXAMPLES if app.config["PARLEY_TEST_BACKEND"] == "sqlite" else EXAMPLES // 3 or 1
    failures: list[str] = []
    # Deletions last, so the others still find what the seeds made.
    found_all = [found.ok() for found in api_schema.get_all_operations()]
    for operation in sorted(found_all, key=lambda o: o.method.upper() == "DELETE"):
        if operation.tags != [area] or (ONLY and not re.search(ONLY, operation.path)):
            continue
        strategies = [
            operation.as_strategy(),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        ]
        real = {
            kind: {p.name: KNOWN[(area, p.name)] for p in found if (area, p.name) in KNOWN}
            for kind, found in (
                ("path_parameters", operation.path_parameters),
                ("query", operation.query),
            )
        }
        takes = body_fields(api_schema.raw_schema, operation)
        fills = {
            k[5:]: v
            for (a, k), v in KNOWN.items()
            if a == area and k.startswith("body.") and k[5:] in takes
        }
        if any(real.values()) or fills:
            known = operation.as_strategy(**{k: v for k, v in real.items() if v})
            strategies.append(known.map(lambda case, fills=fills: filled(case, fills)))

        @hypothesis_seed(20261202)
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=st.one_of(strategies))
        def fuzz(case: Any) -> None:
            widget = case.operation.path.startswith("/widget")
            answer = case.call_and_validate(headers={} if widget else auth, checks=CHECKS)
            STATUSES.setdefault(case.operation.label, Counter())[answer.status_code] += 1

        try:
            fuzz()
        except Exception as error:  # one operation's failure does not hide the others'
            failures.append(f"{operation.label}: {error}")
    if os.environ.get("OPENAPI_STATS"):  # what the calls were answered, per operation
        for label, counted in sorted(STATUSES.items()):
            print(f"{label:60} {dict(sorted(counted.items()))}")
    assert not failures, "\n\n".join(failures)
