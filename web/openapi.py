"""The API's published description (OpenAPI 3.1), made from the schemas that load and dump it.

Each documented route says what it answers with `@answers(...)`, under its route decorator:

    @api.get("/users/<public_id>")
    @answers(UserSchema, query=..., body=..., summary="One user")
    def get_user(public_id): return row          # dumped through UserSchema

The view returns the data; the decorator dumps it through the declared response schema, so
what is documented is what is sent. `given()` and `asked()` load the request's body and query
string through the schemas declared for them. `GET /openapi.json` is built from the
decorations of every route (tests/api/test_openapi.py fails on a route without one), and
`GET /docs` renders it as a page, served by Parley itself."""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import mistune
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from marshmallow import Schema, fields

from commands.audience_schemas import FilterField
from commands.schemas import Identifier, Timestamp, refuse_nul
from web.json_body import json_object

REST_MAX_BYTES = 1024 * 1024  # a REST call's JSON body; more is refused unread

SchemaLike = Schema | type[Schema]
# One schema, or several a route chooses among (`Answer(schema=...)`), documented as oneOf.
Answers = SchemaLike | tuple[SchemaLike, ...] | None


class ErrorSchema(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "parameter_invalid, not_found, unauthorized, forbidden, "
            "rate_limit_exceeded, conflict, invalid_user_hash, server_error, ..."
        },
    )
    message = fields.String(required=True)
    field = fields.String(metadata={"description": "the refused field, dotted"})


class ErrorListSchema(Schema):
    type = fields.Constant("error.list", required=True)
    errors = fields.List(fields.Nested(ErrorSchema), required=True)


SUCCESS = {
    200: "Done: the answer below",
    202: "Accepted: recorded, its effects follow",
    304: "Not modified since the ETag given",
}
# What calls may be answered with besides their own answers (web/errors.py).
INVALID = {400: "A field is missing or invalid (`parameter_invalid`, naming the field)"}
MISSING = {404: "Nothing of that id in this app (`not_found`)"}
AUTH_ERROR = {
    401: "app_id and API key missing or not valid (`unauthorized`)",
    429: "Past the app's rate limit (`rate_limit_exceeded`); `Retry-After` says when",
}
RATE_HEADERS = {
    "X-RateLimit-Limit": "calls this app may make a minute",
    "X-RateLimit-Remaining": "calls left this minute",
    "X-RateLimit-Reset": "Unix time when the minute's count starts again",
}


@dataclass(frozen=True)
class Doc:
    """What a route takes and answers, as the spec says it."""

    responses: Mapping[int, Answers]
    summary: str
    description: str
    query: Schema | None = None
    body: Schema | None = None
    media: str = "application/json"
    errors: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A view's answer other than its first documented one: another status or schema."""

    data: Any
    status: int = 200
    schema: SchemaLike | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _instance(schema: SchemaLike) -> Schema:
    return schema() if isinstance(schema, type) else schema


def answers(
    response: Answers = None,
    *,
    status: int = 200,
    also: Mapping[int, Answers] | None = None,
    query: Schema | None = None,
    body: Schema | None = None,
    media: str = "application/json",
    errors: Mapping[int, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., ResponseReturnValue]]:
    """Declare a route's answer (`response` with `status`; `also`: other statuses), its
    query string and JSON body schemas. The view's docstring is its summary (first line) and
    description. A view answering with a `Response` (a file, a stream) sends it unchanged; one
    of media `application/json` returns data or an `Answer`, dumped here."""
    responses: dict[int, Answers] = {status: response, **(also or {})}
    choices = {code: s if isinstance(s, tuple) else (s,) for code, s in responses.items()}
    dumpers = {code: _instance(s[0]) for code, s in choices.items() if s[0] is not None}
    instances = {id(s): _instance(s) for ss in choices.values() for s in ss if s is not None}

    def wrap(view: Callable[..., Any]) -> Callable[..., ResponseReturnValue]:
        text = inspect.cleandoc(view.__doc__ or "")
        summary, _, rest = text.partition("\n\n")
        doc = Doc(
            responses,
            " ".join(summary.split()),
            rest.strip(),
            query,
            body,
            media,
            errors or {},
        )

        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            result = view(*args, **kwargs)
            if isinstance(result, Response):
                return result
            answer = result if isinstance(result, Answer) else Answer(result, status)
            if answer.status not in responses:
                raise RuntimeError(f"{view.__name__} answered an undocumented {answer.status}")
            if answer.schema is not None and id(answer.schema) not in instances:
                raise RuntimeError(f"{view.__name__} answered with an undocumented schema")
            if answer.schema is None and answer.status not in dumpers:
                return Response(status=answer.status, headers=dict(answer.headers))
            dumper = instances[id(answer.schema)] if answer.schema else dumpers[answer.status]
            out = jsonify(dumper.dump(answer.data))
            out.status_code = answer.status
            out.headers.update(answer.headers)
            return out

        run.__apidoc__ = doc  # type: ignore[attr-defined]
        return run

    return wrap


def documented() -> Doc:
    """The doc of the route answering this request."""
    view: Any = current_app.view_functions[request.endpoint or ""]
    doc: Doc = view.__apidoc__
    return doc


def raw_body(limit: int = REST_MAX_BYTES) -> dict[str, Any]:
    """The request's JSON object, refused (400 naming `body`) before parsing when it is over
    `limit` bytes, and when it is not JSON, nests too deep or holds NUL characters."""
    data = json_object(limit)
    refuse_nul(data)
    return data


def given() -> Any:
    """The request's JSON body loaded through the route's documented body schema."""
    schema = documented().body
    if schema is None:
        raise RuntimeError(f"{request.endpoint} documents no body")
    return schema.load(raw_body())


def asked() -> Any:
    """The request's query string loaded through the route's documented query schema."""
    schema = documented().query
    if schema is None:
        raise RuntimeError(f"{request.endpoint} documents no query")
    return schema.load(request.args)


# -- the document ---------------------------------------------------------------------------

SPECIFIED_BLUEPRINTS = ("api", "widget", "openapi")  # every route of these must be documented
PATH_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _namer() -> Callable[[SchemaLike], str]:
    """Components named after their schema classes (`UserSchema`: `User`); a second class of
    the same name is told apart by its module (`WidgetUser`)."""
    taken: dict[str, type[Schema]] = {}

    def name_of(schema: SchemaLike) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        name = cls.__name__.removesuffix("Schema")
        if taken.setdefault(name, cls) is not cls:
            module = cls.__module__.rsplit(".", 1)[-1].title().replace("_", "")
            name = module + name
            taken.setdefault(name, cls)
        instance = _instance(schema)
        if instance.only or instance.exclude or instance.partial:
            name += "Part"
        return name

    return name_of


def _scalar_fields(plugin: MarshmallowPlugin) -> None:
    converter = plugin.converter
    assert converter is not None

    def identifier(_self: Any, f: fields.Field, **_: Any) -> dict[str, Any]:
        if not isinstance(f, Identifier):
            return {}
        return {"type": ["string", "integer", *(["null"] if f.allow_none else [])]}

    def timestamp(_self: Any, f: fields.Field, **_: Any) -> dict[str, Any]:
        if isinstance(f, Timestamp):
            return {
                "type": ["integer", "string", *(["null"] if f.allow_none else [])],
                "description": "Unix time, or an ISO 8601 date and time",
            }
        return {}

    def filter_field(_self: Any, f: fields.Field, **_: Any) -> dict[str, Any]:
        if not isinstance(f, FilterField):
            return {}
        return {
            "type": ["object", "string", *(["null"] if f.allow_none else [])],
            "description": "a filter: a condition `{attribute, operator, value}` or a group "
            "`{all: [...]}` / `{any: [...]}` (README: the filter language); in a query string, "
            "as JSON text",
        }

    def optional(_self: Any, f: fields.Field, **_: Any) -> dict[str, Any]:
        return {"x-optional": True} if f.metadata.get("optional") else {}

    def constant(_self: Any, f: fields.Field, **_: Any) -> dict[str, Any]:
        return {"const": f.constant} if isinstance(f, fields.Constant) else {}

    converter.add_attribute_function(identifier)
    converter.add_attribute_function(constant)
    converter.add_attribute_function(optional)
    converter.add_attribute_function(filter_field)
    converter.add_attribute_function(timestamp)


def _responses(doc: Doc, secured: bool, takes_ids: bool) -> dict[str, Any]:
    """The answers a route documents, and the refusals it may meet: 400 and 404 when it takes
    anything, 401 and 429 for the REST API."""
    out: dict[str, Any] = {}
    for code, schema in doc.responses.items():
        described: dict[str, Any] = {"description": SUCCESS.get(code, "Done")}
        if isinstance(schema, tuple):
            described["content"] = {"application/json": {"schema": {"oneOf": list(schema)}}}
        elif schema is not None:
            described["content"] = {"application/json": {"schema": schema}}
        elif doc.media != "application/json":
            described["content"] = {doc.media: {"schema": {"type": "string"}}}
        out[str(code)] = described
    takes = takes_ids or doc.query is not None or doc.body is not None
    errors = {
        **(INVALID if takes else {}),
        **(MISSING if takes else {}),
        **(AUTH_ERROR if secured else {}),
        **doc.errors,
    }
    for code, why in errors.items():
        out.setdefault(
            str(code),
            {"description": why, "content": {"application/json": {"schema": ErrorListSchema}}},
        )
    if secured:  # every answer of the REST API says where the app stands
        for described in out.values():
            described["headers"] = {
                name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS
            }
    return out


def build_spec(app: Flask) -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_namer())
    spec = APISpec(
        title="Parley",
        version="1.0",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={
            "description": "The REST API of Parley, in the shapes of Intercom's REST API 1.x, "
            "and the endpoints the JS snippet calls. Authenticate with HTTP Basic: the app's "
            "id as the user name and its API key as the password."
        },
    )
    _scalar_fields(plugin)
    spec.components.security_scheme("app_key", {"type": "http", "scheme": "basic"})
    spec.components.schema("ErrorList", schema=ErrorListSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        doc: Doc | None = getattr(view, "__apidoc__", None)
        if doc is None:
            continue
        secured = rule.endpoint.startswith("api.")
        path = PATH_ARG.sub(r"{\1}", rule.rule)
        tag = path.strip("/").split("/")[0].split(".")[0] or "root"
        operations = paths.setdefault(path, {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
                "tags": [tag],
                "summary": doc.summary,
                "responses": _responses(doc, secured, bool(rule.arguments)),
                "parameters": [
                    {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                    for name in rule.arguments
                ],
            }
            if doc.description:
                operation["description"] = doc.description
            if doc.query is not None:
                operation["parameters"].append({"in": "query", "schema": doc.query})
            if doc.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": doc.body}},
                }
            if not secured:
                operation["security"] = []
            operations[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["servers"] = [{"url": app.extensions["parley"].config.base_url}]
    document["components"]["headers"] = {
        name: {"description": why, "schema": {"type": "integer"}}
        for name, why in RATE_HEADERS.items()
    }
    _answers_required(document)
    document["security"] = [{"app_key": []}]
    return document


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and "/schemas/" in node["$ref"]:
            yield node["$ref"].rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reached(document: dict[str, Any], roots: list[Any]) -> set[str]:
    schemas = document["components"]["schemas"]
    seen: set[str] = set()
    todo = [name for root in roots for name in _refs(root)]
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _answers_required(document: dict[str, Any]) -> None:
    """Schemas only ever answered (never taken) say their keys are all sent: each is
    `required` unless its field is marked `optional` (sent only sometimes), where the
    schema's author did not already say which are."""
    operations = [o for ops in document["paths"].values() for o in ops.values()]
    answered = _reached(document, [o["responses"] for o in operations])
    taken = _reached(document, [[o.get("requestBody"), o.get("parameters")] for o in operations])
    for name, schema in document["components"]["schemas"].items():
        properties = schema.get("properties", {})
        optional = [k for k, p in properties.items() if p.pop("x-optional", False)]
        if name in answered and name not in taken and "required" not in schema:
            required = [k for k in properties if k not in optional]
            if required:
                schema["required"] = required


def spec_of(app: Flask) -> dict[str, Any]:
    found: dict[str, Any] | None = app.extensions.get("parley_openapi")
    if found is None:
        found = app.extensions["parley_openapi"] = build_spec(app)
    return found


openapi = Blueprint("openapi", __name__)


class DocumentSchema(Schema):
    """The OpenAPI document, as built: passed through."""

    class Meta:
        unknown = "include"

    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)
    components = fields.Dict()
    security = fields.List(fields.Dict())


@openapi.get("/openapi.json")
@answers(DocumentSchema)
def openapi_json() -> Any:
    """This API's OpenAPI 3.1 document

    Generated from the schemas that load every request and dump every answer."""
    return spec_of(current_app)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_words(prop: Mapping[str, Any]) -> Markup:
    """A property's type as the docs page says it: `string or null`, `array of <User>` (a
    link to the component), `"user"` for a constant."""
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "const" in prop:
        return Markup("<code>{}</code>").format(json.dumps(prop["const"]))
    for combined in ("oneOf", "anyOf", "allOf"):
        if combined in prop:
            return Markup(" or ").join(type_words(p) for p in prop[combined])
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    words: list[Markup] = []
    for k in kinds:
        if k == "array":
            inner = prop.get("items") or {}
            words.append(Markup("array of {}").format(type_words(inner) if inner else "anything"))
        elif k == "object" and "additionalProperties" in prop:
            words.append(Markup("object (any keys)"))
        else:
            words.append(Markup("{}").format(k))
    return Markup(" or ").join(words) if words else Markup("any")


def constraint_words(prop: Mapping[str, Any]) -> str:
    """What else a property's schema says: its choices, lengths, bounds, default, format."""
    said = []
    if "enum" in prop:
        said.append("one of " + ", ".join(json.dumps(v) for v in prop["enum"]))
    if prop.get("minLength") == 1:
        said.append("not empty")
    for key, words in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("format", "format {}"),
    ):
        if key in prop and not (key == "minLength" and prop[key] == 1):
            said.append(words.format(prop[key]))
    if "default" in prop and "const" not in prop and prop["default"] not in ({}, []):
        said.append(f"default {json.dumps(prop['default'])}")
    if prop.get("readOnly"):
        said.append("answered only")
    if prop.get("writeOnly"):
        said.append("sent only")
    return "; ".join(said)


def prose(text: str | None) -> Markup:
    """A summary or description as the docs page shows it: escaped, `code` in backticks."""
    escaped = str(Markup.escape(text or ""))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


MARKDOWN = mistune.create_markdown(escape=True)


def markdown(text: str) -> Markup:
    """A description as the docs page shows it: Markdown, any HTML in it escaped."""
    return Markup(MARKDOWN(text))


def _operations(spec: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The operations by tag (the first part of their path), in path order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            grouped.setdefault(operation["tags"][0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "body": body["schema"] if body else None,
                    "secured": operation.get("security") != [],
                    **operation,
                }
            )
    return sorted(grouped.items())


@openapi.get("/docs")
@answers(media="text/html")
def docs_page() -> ResponseReturnValue:
    """This API's reference, as a page to read

    The OpenAPI document rendered: operations by area, then every schema."""
    spec = spec_of(current_app)
    page = render_template(
        "api_docs.html",
        spec=spec,
        areas=_operations(spec),
        schemas=sorted(spec["components"]["schemas"].items()),
        type_words=type_words,
        constraint_words=constraint_words,
        prose=prose,
        markdown=markdown,
        component=lambda ref: spec["components"]["schemas"].get(_ref_name(ref), {}),
    )
    answer = Response(page, mimetype="text/html")
    # Everything is on the page itself: its one style sheet and one line of script.
    answer.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return answer
