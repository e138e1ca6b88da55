"""Property: for generated users (built with Parley's own commands) and generated filters,
SQL over the projections selects exactly the users the in-memory evaluator matches on the
aggregates, on SQLite and on PostgreSQL, and so does the audience index (large apps' counts),
whether it followed the app from its first user or was built at the end. Hostile strings are
just values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.apps import CreateApp, create_app
from commands.clock import ManualClock
from commands.segments import SaveSegment, save_segment
from commands.tags import SaveTag, UserRef, save_tag
from commands.tracking import TrackEvent, track_event
from commands.users import (
    CompanyInput,
    MessageExchanged,
    Ping,
    SaveUser,
    UserInput,
    record_message_received,
    record_message_sent,
    record_ping,
    save_user,
)
from domain.company import Company
from domain.errors import InvalidValue
from domain.filters import parse_filter
from domain.identity import company_key
from domain.matching import matches, profile_of
from domain.segments import Segments, segments_key
from domain.tags import Tags, tags_key
from domain.user import User
from projections.log import Log
from queries.audience.following import AudienceIndex
from queries.audience.sql import matching_ids, no_segments, user_filter
from queries.segments import definitions
from queries.users import search_users
from web.bootstrap import Services

DAY = 86_400
START = datetime(2026, 1, 1, tzinfo=UTC)
NO_SUCH_TAG = "0" * 32
HOSTILE = ["", "a", "A", "ab", "Ab", "'", '"', "%", "_", "/", "\\", "O'Brien", "é", "É", "ß"]
HOSTILE += ["İ", "ǅ", "'; DROP TABLE users; --", "%_/", "a%b", "x_y", "🙂", "日本"]
PIECE = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=4),
)
# Values are short joins of a few hostile pieces, so that one user's value often starts
# with, ends with or contains a filter's value, in one case or another.
TEXT = st.lists(
    st.one_of(PIECE, PIECE.map(str.upper), PIECE.map(str.lower)), min_size=1, max_size=3
).map("".join)
EVENTS = ["invited", "exported.pdf", "é'vent"]
KEYS = ["plan", "seats", "paid", "trial_at", "é clé", 'quo"te', "[0]"]
AGENTS = [
    None,
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "curl/8.0",
]
NUMBER = st.one_of(st.integers(-5, 200), st.floats(-1e6, 1e6, allow_nan=False), st.just(2**53 + 1))
CUSTOM_VALUE = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)


def custom_for(key: str) -> st.SearchStrategy[Any]:
    if key.endswith("_at"):
        return st.one_of(st.none(), st.integers(1_700_000_000, 1_800_000_000))
    return CUSTOM_VALUE


@st.composite
def user_specs(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=4))
    return {
        "email": draw(st.one_of(st.none(), TEXT.map(lambda t: f"{t}@x.io"))),
        "name": draw(st.one_of(st.none(), TEXT)),
        "signed_up_at": draw(st.one_of(st.none(), st.integers(1_600_000_000, 1_790_000_000))),
        "custom": {k: draw(custom_for(k)) for k in keys},
        "companies": draw(st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True, max_size=2)),
        "pings": draw(st.integers(0, 3)),
        "agent": draw(st.sampled_from(AGENTS)),
        "advance_days": draw(st.integers(0, 40)),
        "tags": draw(st.lists(st.sampled_from(["vip", "PDF"]), unique=True, max_size=2)),
        "messages": draw(st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=3)),
        "events": draw(
            st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(0, 60)), max_size=4)
        ),
    }


COMPANY_SPECS = st.fixed_dictionaries(
    {
        "name": st.one_of(st.none(), TEXT),
        "monthly_spend": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
        "plan": st.one_of(st.none(), st.sampled_from(["pro", "Pro", "free"])),
        "custom": st.dictionaries(
            st.sampled_from(["seats", "paid", "renew_at"]), NUMBER, max_size=2
        ),
    }
)
STRINGS = ["email", "name", "user_id", "browser", "timezone", "city", "last_url"]
# Sorts of the list (each with its order) the audience index can read a first page in.
SORTS = [("created_at", "desc"), ("last_request_at", "asc"), ("session_count", "desc")]
SORTS += [("signed_up_at", "asc"), ("last_message_sent_at", "desc")]
DATES = ["last_seen_at", "created_at", "signed_up_at", "last_request_at", "last_message_sent_at"]
STRING_OPS = ["is", "is_not", "starts_with", "ends_with", "contains", "does_not_contain"]
NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte"]
RELATIVE = ["more_than_days_ago", "exactly_days_ago", "less_than_days_ago"]


@dataclass
class Seen:
    """Values the generated users hold: filters are drawn around them so that they hit."""

    tag_ids: list[str] = field(default_factory=list)
    segment_ids: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=lambda: [""])
    numbers: list[float] = field(default_factory=lambda: [0.0])
    dates: list[int] = field(default_factory=lambda: [1_767_225_600])

    def add(self, value: Any) -> None:
        if isinstance(value, str):
            self.strings.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.numbers.append(float(value))
            if 1_500_000_000 < value < 1_900_000_000:
                self.dates.append(int(value))


@st.composite
def fragment(draw: st.DrawFn, seen: Seen) -> str:
    """A piece of a value some user holds, sometimes in another case."""
    whole = draw(st.sampled_from(seen.strings))
    start = draw(st.integers(0, len(whole)))
    end = draw(st.integers(start, len(whole)))
    piece = whole[start:end]
    return draw(st.sampled_from([piece, piece, piece.upper(), piece.lower()]))


@st.composite
def conditions(draw: st.DrawFn, seen: Seen, now: datetime) -> dict[str, Any]:
    text = st.one_of(TEXT, fragment(seen), fragment(seen))
    number = st.one_of(
        NUMBER, st.sampled_from(seen.numbers), st.sampled_from([0, 5, 45, 50, 95, 100])
    )
    tag_ids = seen.tag_ids
    kinds = ["string", "number", "date", "bool", "custom", "company", "tag", "segment", "event"]
    kind = draw(st.sampled_from(kinds))
    presence = draw(st.sampled_from(["known", "unknown", None, None, None, None]))
    if kind in ("tag", "segment"):
        ids = tag_ids if kind == "tag" else seen.segment_ids
        return {
            "attribute": kind,
            "operator": draw(st.sampled_from(["is", "is_not"])),
            "value": draw(st.sampled_from([*ids, NO_SUCH_TAG])),
        }
    op: str
    value: Any
    if kind == "event":
        name, part = (
            draw(st.sampled_from(EVENTS)),
            draw(st.sampled_from(["count", "first_at", "last_at"])),
        )
        if part == "count":
            op, value = draw(st.sampled_from(NUMBER_OPS)), draw(st.integers(0, 4))
        else:
            op, value = date_condition(draw, seen, now)
        attribute = f"event.{name}.{part}"
        if presence:
            return {"attribute": attribute, "operator": presence}
        return {"attribute": attribute, "operator": op, "value": value}
    if kind == "company":
        prefix = "company."
        kind = draw(st.sampled_from(["string", "number", "date", "custom"]))
    else:
        prefix = ""
    if kind == "string":
        attribute = draw(st.sampled_from(["name", "plan", "company_id"] if prefix else STRINGS))
        op, value = draw(st.sampled_from(STRING_OPS)), draw(text)
    elif kind == "number":
        numbers = ["session_count", "impressions", "relationship_score"]
        attribute = draw(st.sampled_from(["monthly_spend"] if prefix else numbers))
        op, value = draw(st.sampled_from(NUMBER_OPS)), draw(number)
    elif kind == "date":
        attribute = draw(st.sampled_from(["created_at", "remote_created_at"] if prefix else DATES))
        op, value = date_condition(draw, seen, now)
    elif kind == "bool":
        attribute, op, value = (
            "unsubscribed_from_emails",
            draw(st.sampled_from(["is", "is_not"])),
            draw(st.booleans()),
        )
    else:
        key = draw(st.sampled_from(["seats", "paid", "renew_at"] if prefix else KEYS))
        attribute = f"custom.{key}"
        if key.endswith("_at"):
            op, value = date_condition(draw, seen, now)
        else:
            op, value = draw(
                st.one_of(
                    st.tuples(st.sampled_from(STRING_OPS), text),
                    st.tuples(st.sampled_from(NUMBER_OPS), number),
                    st.tuples(st.sampled_from(["is", "is_not"]), st.booleans()),
                )
            )
    if presence:
        return {"attribute": prefix + attribute, "operator": presence}
    return {"attribute": prefix + attribute, "operator": op, "value": value}


def date_condition(draw: st.DrawFn, seen: Seen, now: datetime) -> tuple[str, Any]:
    """Around a date some user holds: its UTC day, or its age in days give or take one."""
    moment = draw(st.sampled_from(seen.dates)) + draw(st.sampled_from([0, 0, -DAY, DAY]))
    if draw(st.booleans()):
        age = max(0, (int(now.timestamp()) - moment) // DAY)
        return draw(st.sampled_from(RELATIVE)), min(age, 36_500)
    day = datetime.fromtimestamp(moment, UTC).date()
    return draw(st.sampled_from(["after", "on", "before"])), day.isoformat()


def filters(seen: Seen, now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    def groups(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        modes = st.sampled_from(["all", "any"])
        return st.builds(lambda mode, parts: {mode: parts}, modes, st.lists(inner, max_size=3))

    return st.recursive(conditions(seen, now), groups, max_leaves=5)


def build_world(
    services: Services,
    specs: list[dict[str, Any]],
    companies: dict[str, Any],
    created: Callable[[str], None] = lambda _app_id: None,
) -> str:
    """An app with these users (and their companies), after `created` saw it empty."""
    store, clock = services.store, services.clock
    assert isinstance(clock, ManualClock)
    clock.set(START)  # each example starts at the same moment, so it can be replayed
    app_id = create_app(CreateApp("Agreement"), store, clock).app_id
    created(app_id)
    for n, spec in enumerate(specs):
        clock.advance(days=spec["advance_days"], seconds=n)
        attributes = {"name": spec["name"], "signed_up_at": spec["signed_up_at"]}
        company_inputs = [
            CompanyInput(
                company_id=c,
                attributes={k: v for k, v in companies[c].items() if k != "custom"},
                custom=companies[c]["custom"],
            )
            for c in spec["companies"]
        ]
        user = UserInput(
            user_id=f"u{n}",
            email=spec["email"],
            attributes=attributes,
            custom=spec["custom"],
            companies=company_inputs,
        )
        save_user(
            SaveUser(app_id=app_id, user=user, update_last_request_at=n % 2 == 0), store, clock
        )
        for _ in range(spec["pings"]):
            clock.advance(minutes=45)
            record_ping(
                Ping(
                    app_id=app_id,
                    user=UserInput(user_id=f"u{n}"),
                    url=f"https://a.io/{n}",
                    user_agent=spec["agent"],
                ),
                store,
                clock,
            )
        for name, days_ago in spec.get("events", []):
            track = TrackEvent(
                app_id,
                name,
                user_id=f"u{n}",
                created_at=int(clock.now().timestamp()) - days_ago * DAY,
            )
            track_event(track, store, clock)
        for to_user, days_ago in spec.get("messages", []):
            note = record_message_sent if to_user else record_message_received
            at = clock.now() - timedelta(days=days_ago)
            note(MessageExchanged(app_id, f"u{n}", at), store, clock)
        for tag in spec["tags"]:
            save_tag(
                SaveTag(app_id=app_id, name=tag, users=[UserRef(user_id=f"u{n}")]), store, clock
            )
    services.runner.catch_up()
    return app_id


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(user_specs(), min_size=3, max_size=8),
    companies=st.fixed_dictionaries({c: COMPANY_SPECS for c in ("c1", "c2", "c3")}),
    data=st.data(),
)
def test_sql_and_memory_pick_the_same_users(
    services: Services, specs: list[dict[str, Any]], companies: dict[str, Any], data: st.DataObject
) -> None:
    followed: list[AudienceIndex] = []

    def follow(app_id: str) -> None:
        followed.append(AudienceIndex(app_id))
        followed[0].build(services.engine)

    app_id = build_world(services, specs, companies, follow)
    store = services.store
    tags = store.get_as(Tags, tags_key(app_id))
    live = set(tags.names) if tags else set()
    profiles = {}
    for n in range(len(specs)):
        user = store.find(User.create_id(app_id, f"u{n}", None))
        assert isinstance(user, User)
        owned = [store.get_as(Company, company_key(app_id, c)) for c in specs[n]["companies"]]
        profiles[user.id.hex] = profile_of(user, [c for c in owned if c is not None], live)
    seen = Seen(tag_ids=sorted(live))
    for p in profiles.values():
        for value in [*p.attributes.values(), *p.custom.values()]:
            seen.add(value)
        for company in p.companies:
            for value in [*company.attributes.values(), *company.custom.values()]:
                seen.add(value)
        for stats in p.events.values():
            seen.add(stats["first_at"])
            seen.add(stats["last_at"])
    # Saved segments (which may use one another) are conditions too.
    for n, written in enumerate(data.draw(st.lists(filters(seen, START), max_size=3))):
        cmd = SaveSegment(app_id, f"s{n}", parse_filter(written))
        try:
            seen.segment_ids.append(save_segment(cmd, store, services.clock).id)
        except InvalidValue:
            continue  # it named a segment that does not exist: refused, as it should be
    services.runner.catch_up()
    segments = store.get_as(Segments, segments_key(app_id))
    in_memory = segments.definition if segments else (lambda _id: None)
    built = AudienceIndex(app_id)
    built.build(services.engine)
    with services.engine.connect() as conn:
        followed[0].refresh(conn, Log(store))
    for offset in data.draw(st.lists(st.integers(0, 200), min_size=1, max_size=2)):
        now = services.clock.now() + timedelta(days=offset)
        for written in data.draw(st.lists(filters(seen, now), min_size=8, max_size=16)):
            f = parse_filter(written)
            expected = {i for i, p in profiles.items() if matches(f, p, now, in_memory)}
            with services.engine.connect() as conn:
                found = set(matching_ids(conn, app_id, f, now, definitions(conn, app_id)))
            assert found == expected, written
            for index in (built, followed[0]):
                if index.covers(f, in_memory):
                    assert index.ids(f, now, in_memory) == expected, written
                    assert index.count(f, now, in_memory) == len(expected), written
            sort, order = data.draw(st.sampled_from(SORTS))
            with services.engine.connect() as conn:
                lookup = definitions(conn, app_id)
                where = user_filter(f, conn.dialect.name, now, lookup, app_id)
                listing = search_users(conn, app_id, where, now, sort, order, 3)
            if built.covers(f, in_memory):
                first = (sort, order == "desc", 3)
                page = built.listing(f, now, in_memory, first, rare=0)[1]
                assert page == [u["id"] for u in listing.items], (written, sort, order)


TRAPS = ["ÉVRY", "évry", "Evry", "a%b", "axb", "a_b", "O'Brien", "İstanbul", "istanbul", "ß", "SS"]
LONG = "Évry-" + "Ab" * 40  # longer than the audience index keeps in its arrays
TRAPS += [LONG, LONG.upper(), LONG + "z"]


def test_sql_and_memory_agree_on_case_and_wildcard_traps(services: Services) -> None:
    """Letters outside A-Z keep their case in both evaluators; % and _ are plain characters."""
    specs: list[dict[str, Any]] = [
        {
            "email": None,
            "name": name,
            "signed_up_at": None,
            "custom": {"plan": name},
            "companies": [],
            "pings": 0,
            "agent": None,
            "advance_days": 0,
            "tags": [],
        }
        for name in TRAPS
    ]
    app_id = build_world(services, specs, {})
    profiles = {}
    for n in range(len(specs)):
        user = services.store.find(User.create_id(app_id, f"u{n}", None))
        assert isinstance(user, User)
        profiles[user.id.hex] = profile_of(user, [], set())
    now = services.clock.now()
    index = AudienceIndex(app_id)
    index.build(services.engine)
    picked: dict[tuple[str, str], set[str]] = {}
    for attribute in ("name", "custom.plan"):
        for operator in ("is", "starts_with", "ends_with", "contains"):
            for value in [*TRAPS, "é", "É", "EVRY", "%", "_", "a%", "_b", "i", "İ", "s", "bz"]:
                f = parse_filter({"attribute": attribute, "operator": operator, "value": value})
                expected = {i for i, p in profiles.items() if matches(f, p, now)}
                with services.engine.connect() as conn:
                    assert set(matching_ids(conn, app_id, f, now)) == expected, (operator, value)
                assert index.ids(f, now, no_segments) == expected, (operator, value)
                picked[(operator, value)] = expected
    names = {i: p.attributes["name"] for i, p in profiles.items()}
    assert {names[i] for i in picked[("is", "évry")]} == {"évry"}
    assert {names[i] for i in picked[("is", "EVRY")]} == {"Evry"}
    assert {names[i] for i in picked[("contains", "%")]} == {"a%b"}
    assert {names[i] for i in picked[("contains", "_")]} == {"a_b"}


def test_not_in_a_segment_includes_users_it_knows_nothing_about(services: Services) -> None:
    """A user with no value for a segment's attribute is outside it, so "not in it" has them
    (SQL leaves an unknown value NULL inside the segment; only its negation resolves it)."""
    base: dict[str, Any] = {"email": None, "name": None, "signed_up_at": None}
    base.update({"companies": [], "pings": 0, "agent": None, "advance_days": 0, "tags": []})
    customs: list[dict[str, Any]] = [{"seats": 20}, {}, {"seats": "many"}, {"seats": 3}]
    app_id = build_world(services, [{**base, "custom": c} for c in customs], {})
    written = {"any": [cond("custom.seats", "gt", 10), cond("signed_up_at", "known")]}
    segment = save_segment(
        SaveSegment(app_id, "big", parse_filter(written)), services.store, services.clock
    )
    services.runner.catch_up()
    ids = [User.create_id(app_id, f"u{n}", None).hex for n in range(len(customs))]
    now = services.clock.now()
    lookup = services.store.get_as(Segments, segments_key(app_id))
    assert lookup is not None
    for operator, expected in (("is", {ids[0]}), ("is_not", {ids[1], ids[2], ids[3]})):
        f = parse_filter({"attribute": "segment", "operator": operator, "value": segment.id})
        with services.engine.connect() as conn:
            found = set(matching_ids(conn, app_id, f, now, definitions(conn, app_id)))
        assert found == expected, operator
        users = [services.store.get_as(User, UUID(hex=i)) for i in ids]
        profiles = {u.id.hex: profile_of(u, [], set()) for u in users if u is not None}
        assert {i for i, p in profiles.items() if matches(f, p, now, lookup.definition)} == found


def cond(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    found = {"attribute": attribute, "operator": operator}
    return found if value is None else {**found, "value": value}
