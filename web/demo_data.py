"""The demo app's living data (issue 14, "The demo shows something").

`parley demo` seeds the demo app once, so that a newcomer's first look at the dashboard shows a
product in use: a few hundred users signed up over two years and seen over the last 90 days
(new, active, slipping away), companies, tags, tracked events, an auto message, a teammate's
personal messages and a few dozen conversations. Everything goes through the commands real
traffic goes through (snippet pings loaded by PingSchema, tracked events by the widget's
schema, the REST API's companies, a teammate's tags and replies), each called through
`handle`, on a ManualClock set to the moment it happens: the whole history is replayed in time
order, as it would have been recorded.

The plan is drawn from a seeded random.Random, so the demo is the same on every machine, its
moments counted back from the moment it is seeded. The demo's pings come from documentation
addresses (RFC 5737), which no GeoIP database knows: the demo names their city itself, through
`record_ping`'s `locate`, and any other address is asked of the real locator.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import eventsourcing.domain as library

from commands.audience_schemas import WidgetEventSchema, WidgetViewSchema
from commands.auto_messages import (
    ComposeAutoMessage,
    SendInApp,
    compose_auto_message,
    send_in_app,
)
from commands.clock import ManualClock
from commands.companies import SaveCompany, save_company
from commands.conversations import (
    MarkRead,
    Reply,
    StartConversation,
    mark_read,
    reply,
    start_by_user,
)
from commands.handling import handle
from commands.schemas import ApiCompanySchema, PingSchema
from commands.store import Parley
from commands.tags import CompanyRef, SaveTag, UserRef, save_tag
from commands.tracking import track_event
from commands.users import Locate, Ping, Place, nowhere, record_ping
from commands.views import record_view
from domain.identity import user_id_key
from domain.messages import Message

SEED = 14  # the number: the same demo everywhere
USERS = 300
COMPANIES = 25
BASE = "https://app.example.com"

FIRST_NAMES = (
    "Ada", "Amélie", "Anders", "Aiko", "Aarav", "Anaïs", "Beatriz", "Björn", "Chloé", "Chidi",
    "Dmitri", "Élodie", "Emeka", "Fatima", "Francesca", "Gökhan", "Hana", "Hiroshi", "Ingrid",
    "Isabela", "Jakub", "Javier", "Jürgen", "Kwame", "Léa", "Liam", "Lucía", "Łukasz", "Mads",
    "Maya", "Mei", "Mohammed", "Nadia", "Niamh", "Noah", "Oluwaseun", "Pablo", "Priya",
    "Rafael", "Renée", "Saanvi", "Siobhán", "Søren", "Sofía", "Takeshi", "Thandiwe", "Tomás",
    "Valentina", "Wei", "Yusuf", "Zoë", "Zeynep", "Ömer", "Grace", "Oscar", "Ines", "Kenji",
    "Aleksandra", "Mateo", "Freya",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Bianchi", "Çelik", "Chen", "da Silva", "Dubois", "Eriksen", "Fernández",
    "García", "Haddad", "Ivanova", "Jensen", "Kowalski", "Kim", "Lefèvre", "Müller",
    "Nakamura", "Nguyễn", "Novák", "O'Brien", "Okafor", "Patel", "Rossi", "Schröder", "Singh",
    "Sørensen", "Tanaka", "van der Berg", "Wójcik", "Yılmaz", "Zhang", "Mensah", "Kovačević",  # noqa: RUF001
    "Hernández", "Murphy", "Smith", "Johnson", "Moreau", "Costa", "Lindqvist",
)  # fmt: skip
# (city, country, timezone) as a GeoLite2 city database names them in English.
CITIES = (
    ("Paris", "France", "Europe/Paris"),
    ("London", "United Kingdom", "Europe/London"),
    ("Berlin", "Germany", "Europe/Berlin"),
    ("Madrid", "Spain", "Europe/Madrid"),
    ("Lisbon", "Portugal", "Europe/Lisbon"),
    ("Dublin", "Ireland", "Europe/Dublin"),
    ("Amsterdam", "Netherlands", "Europe/Amsterdam"),
    ("Stockholm", "Sweden", "Europe/Stockholm"),
    ("Linköping", "Sweden", "Europe/Stockholm"),
    ("Copenhagen", "Denmark", "Europe/Copenhagen"),
    ("Kraków", "Poland", "Europe/Warsaw"),
    ("Istanbul", "Turkey", "Europe/Istanbul"),
    ("Lagos", "Nigeria", "Africa/Lagos"),
    ("Nairobi", "Kenya", "Africa/Nairobi"),
    ("Cape Town", "South Africa", "Africa/Johannesburg"),
    ("Mumbai", "India", "Asia/Kolkata"),
    ("Bengaluru", "India", "Asia/Kolkata"),
    ("Singapore", "Singapore", "Asia/Singapore"),
    ("Tokyo", "Japan", "Asia/Tokyo"),
    ("Seoul", "South Korea", "Asia/Seoul"),
    ("Sydney", "Australia", "Australia/Sydney"),
    ("New York", "United States", "America/New_York"),
    ("San Francisco", "United States", "America/Los_Angeles"),
    ("Austin", "United States", "America/Chicago"),
    ("Toronto", "Canada", "America/Toronto"),
    ("Mexico City", "Mexico", "America/Mexico_City"),
    ("São Paulo", "Brazil", "America/Sao_Paulo"),
    ("Bogotá", "Colombia", "America/Bogota"),
)
# (company_id, name, industry): their people's emails are at <company_id>.example (RFC 2606).
COMPANY_NAMES = (
    ("northwind", "Northwind Traders", "Retail"),
    ("bluefinch", "Bluefinch Analytics", "Software"),
    ("kobo", "Kōbō Studio", "Design"),
    ("cafeole", "Café Olé GmbH", "Food & drink"),
    ("fjordline", "Fjordline Logistics", "Logistics"),
    ("lumen", "Lumen Health", "Healthcare"),
    ("papaya", "Papaya Payments", "Fintech"),
    ("orbit", "Orbit Robotics", "Manufacturing"),
    ("tundra", "Tundra Outdoor Co.", "Retail"),
    ("saffron", "Saffron & Sage", "Food & drink"),
    ("helix", "Helix Bio", "Healthcare"),
    ("meridian", "Meridian Travel", "Travel"),
    ("quill", "Quill Legal", "Legal"),
    ("brightpath", "Brightpath Schools", "Education"),
    ("zocalo", "Zócalo Media", "Media"),
    ("ironbark", "Ironbark Mining", "Energy"),
    ("pixelforge", "Pixelforge Games", "Gaming"),
    ("greenleaf", "Greenleaf Energy", "Energy"),
    ("atlas", "Atlas Freight", "Logistics"),
    ("nimbus", "Nimbus Cloud", "Software"),
    ("vela", "Vela Fashion", "Retail"),
    ("harbor", "Harbor Bank", "Fintech"),
    ("kiwilabs", "Kiwi Labs", "Software"),
    ("sakura", "Sakura Foods", "Food & drink"),
    ("edelweiss", "Edelweiß Versicherung", "Insurance"),
)
ROLES = ("Founder", "Engineer", "Product manager", "Designer", "Marketing", "Support", "Sales")
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
)
PAGES = (
    "/", "/projects", "/projects/42", "/projects/42/board", "/reports", "/reports/weekly",
    "/settings/team", "/settings/profile", "/billing", "/integrations", "/help",
)  # fmt: skip
REFERRERS = (
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://www.linkedin.com/",
    "https://duckduckgo.com/",
)
PROJECTS = (
    "Q3 launch", "Website redesign", "Onboarding revamp", "Hiring plan", "Mobile app",
    "Campaña de verano", "Rentrée 2026", "Fundraising",
)  # fmt: skip
TEMPLATES = ("kanban", "timeline", "blank", "roadmap")
REPORTS = ("Weekly revenue", "Churn by plan", "Support load", "Pipeline")
# Documentation addresses (RFC 5737): 762 of them, one per user.
NETWORKS = ("192.0.2", "198.51.100", "203.0.113")
# Letters NFKD does not take apart, spelled for email addresses (\u0131 is the dotless i).
SPELLED = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "\u0131": "i", "ß": "ss", "æ": "ae"}
)

QUESTIONS = (
    ("How do I change my email address?",
     "Hi {first}! Settings → Profile → Email; you'll get a link to confirm the new one."),
    ("Can I get an invoice with our VAT number on it?",
     "Of course, {first}: add it under Billing → Details and every invoice will carry it."),
    ("Is there an API for projects?",
     "There is! Your key is under Settings → API, and the docs are linked right next to it."),
    ("Where did the weekly report go?",
     "It moved to Reports → Scheduled, {first}. Sorry for the confusion!"),
    ("Do you offer discounts for nonprofits?",
     "We do: half price on Pro. Reply with your registration number and I'll apply it."),
    ("Wie kann ich mein Passwort zurücksetzen?",
     "Hallo {first}! Auf der Anmeldeseite auf „Passwort vergessen?“ klicken."),
    ("Can I import my boards from Trello?",
     "Yes: Projects → Import → Trello brings cards, lists and labels across."),
    ("Is our data stored in the EU?",
     "It is, {first}: Frankfurt, with backups in Dublin."),
    ("The board view gets slow with 500 cards.",
     "Thanks {first}, we shipped a fix this morning. Could you reload and tell me?"),
    ("How many seats does Pro include?",
     "Pro starts at 2 seats and you can add more any time from Billing, {first}."),
    ("Can I undo deleting a project?",
     "Deleted projects stay in the trash for 30 days: Projects → Trash → Restore."),
    ("Posso usar o app no celular?",
     "Pode sim, {first}! Os apps para iOS e Android estão nas lojas."),
)  # fmt: skip
THANKS = ("Thanks!", "Great, thank you!", "That worked, cheers.", "Perfect, thanks", "Merci !")
NUDGES = (
    "Hi {first}, I saw you've been exporting reports: did you know they can go out by email "
    "every Monday? Reports → Scheduled. Happy to help set it up!",
    "Hi {first}, thanks for trying the board view. Anything that would make it fit your "
    "team better? I read every reply.",
    "Hi {first}, quick one: your trial ends soon. If you'd like a few more days to decide, "
    "just say so.",
)
WELCOME = (
    "Welcome aboard! If you need a hand setting up your first project, just reply here: "
    "a real person reads every message."
)


@dataclass
class DemoCompany:
    company_id: str
    name: str
    industry: str
    plan: str
    monthly_spend: float
    employees: int
    founded: datetime
    renewal: datetime
    self_serve: bool
    imported_at: datetime = field(default_factory=lambda: datetime.max.replace(tzinfo=UTC))


@dataclass
class DemoUser:
    index: int
    user_id: str | None
    name: str
    email: str
    city: tuple[str, str, str]
    ip: str
    user_agent: str
    companies: list[DemoCompany]
    kind: str  # new, active or slipping
    signed_up: datetime
    visits: list[list[datetime]]  # sessions, each its page views' moments
    plan: str
    seats: int
    beta: bool
    role: str
    trial_ends: datetime | None
    unsubscribed: bool
    upgrade: tuple[datetime, str, int] | None = None  # when, to which plan, seats

    @property
    def first_seen(self) -> datetime:
        return self.visits[0][0]

    @property
    def last_seen(self) -> datetime:
        return self.visits[-1][-1]

    def named(self) -> dict[str, str]:
        """How the snippet and the widget name this user: user_id, else email."""
        return {"user_id": self.user_id} if self.user_id else {"email": self.email}


@dataclass(frozen=True)
class Seeded:
    """What the demo recorded."""

    users: int
    companies: int
    page_views: int
    events: int
    tagged: int
    conversations: int


Step = tuple[datetime, int, Callable[[], None]]


def seed_demo(
    store: Parley,
    app_id: str,
    admin_id: str,
    *,
    now: datetime | None = None,
    locate: Locate = nowhere,
    users: int = USERS,
) -> Seeded | None:
    """Seed the demo app, unless it has been seeded already (None then)."""
    now = now or datetime.now(UTC)
    rng = random.Random(SEED)
    companies = _companies(rng, now)
    everyone = _users(rng, now, companies, users)
    first = next(u for u in everyone if u.user_id is not None)
    if store.find(user_id_key(app_id, first.user_id or "")) is not None:
        return None
    demo = Demo(store, app_id, admin_id, ManualClock(now), locate, everyone)
    demo.plan_companies(rng, companies)
    demo.plan_auto_message(now - timedelta(days=21))
    for user in everyone:
        demo.plan_visits(rng, user)
    demo.plan_tags(rng, everyone, companies, now)
    demo.plan_conversations(rng, everyone, now)
    demo.plan_personal_messages(rng, everyone)
    with _stamped_by(demo.clock):
        demo.run()
    return Seeded(
        users=len(everyone),
        companies=len(companies),
        page_views=demo.page_views,
        events=demo.events,
        tagged=demo.tagged,
        conversations=demo.conversations,
    )


def _some(rng: random.Random, among: list[DemoUser], n: int) -> list[DemoUser]:
    """Up to n of them, drawn at random (a small demo has fewer)."""
    return rng.sample(among, min(n, len(among)))


@contextmanager
def _stamped_by(clock: ManualClock) -> Iterator[None]:
    """Events the domain records without a moment of their own (an attribute set, a company
    joined, a tag) carry the timestamp eventsourcing gives every event, read off the machine's
    clock. While the demo's history is replayed that clock reads the demo's, so each event is
    stamped with the moment it happens, as live traffic would have been (the activity says
    "3 weeks ago", not "just now")."""
    before = library.datetime_now_with_tzinfo
    setattr(library, "datetime_now_with_tzinfo", clock.now)  # noqa: B010
    try:
        yield
    finally:
        setattr(library, "datetime_now_with_tzinfo", before)  # noqa: B010


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(SPELLED))
    kept = "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c == " "))
    return kept.lower().replace(" ", "")


def _companies(rng: random.Random, now: datetime) -> list[DemoCompany]:
    made = []
    for company_id, name, industry in COMPANY_NAMES[:COMPANIES]:
        plan = rng.choices(("free", "pro", "enterprise"), (2, 5, 3))[0]
        spend = {
            "free": 0.0,
            "pro": rng.randrange(99, 900),
            "enterprise": rng.randrange(2000, 9000),
        }
        made.append(
            DemoCompany(
                company_id=company_id,
                name=name,
                industry=industry,
                plan=plan,
                monthly_spend=float(spend[plan]),
                employees=rng.choice((4, 9, 12, 25, 40, 80, 150, 320, 1200)),
                founded=now - timedelta(days=rng.randrange(400, 4000)),
                renewal=now + timedelta(days=rng.randrange(-20, 300)),
                self_serve=plan != "enterprise",
            )
        )
    return made


def _users(
    rng: random.Random, now: datetime, companies: list[DemoCompany], count: int = USERS
) -> list[DemoUser]:
    # Paying companies have more people: a few have dozens, most a handful.
    size = {"free": 0.5, "pro": 1.0, "enterprise": 2.2}
    weights = [size[c.plan] * rng.uniform(0.2, 1.8) for c in companies]
    emails: set[str] = set()
    users = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        kind = "new" if index % 14 == 3 else "slipping" if rng.random() < 0.32 else "active"
        member = rng.random() < 0.75
        joined = rng.choices(companies, weights)[0:1] if member else []
        if member and rng.random() < 0.03:
            joined.append(rng.choice([c for c in companies if c not in joined]))
        domain = (
            f"{joined[0].company_id}.example"
            if joined
            else rng.choice(("example.com", "example.org", "example.net"))
        )
        local = f"{_ascii(first)}.{_ascii(last)}" if joined else f"{_ascii(first)}{_ascii(last)}"
        email = f"{local}@{domain}"
        while email in emails:
            email = f"{local}{rng.randrange(2, 99)}@{domain}"
        emails.add(email)
        signed_up, visits = _visits(rng, now, kind)
        plan = joined[0].plan if joined else rng.choices(("free", "pro"), (3, 2))[0]
        seats = {"free": 1, "pro": rng.randrange(2, 25), "enterprise": rng.randrange(20, 400)}
        trial = now - signed_up < timedelta(days=45) and plan == "free"
        user = DemoUser(
            index=index,
            user_id=None if index % 29 == 7 else str(10_000 + index),  # a few known by email
            name=name,
            email=email,
            city=rng.choice(CITIES),
            ip=f"{NETWORKS[index // 254]}.{index % 254 + 1}",
            user_agent=rng.choice(USER_AGENTS),
            companies=joined,
            kind=kind,
            signed_up=signed_up,
            visits=visits,
            plan=plan,
            seats=seats[plan],
            beta=rng.random() < 0.12,
            role=rng.choice(ROLES),
            trial_ends=signed_up + timedelta(days=14) if trial else None,
            unsubscribed=rng.random() < 0.05,
        )
        if plan == "free" and len(visits) >= 4 and rng.random() < 0.3:
            user.upgrade = (rng.choice(visits[1:-1])[0], "pro", rng.randrange(2, 12))
        users.append(user)
    return users


def _visits(rng: random.Random, now: datetime, kind: str) -> tuple[datetime, list[list[datetime]]]:
    """When the user signed up, and their sessions (each a list of page views' moments): the
    first on the day they were first seen, the last ending when they were last seen."""
    day = timedelta(days=1)
    if kind == "new":
        signed_up = now - rng.uniform(0.05, 6.5) * day
        first, last = signed_up, now - rng.uniform(0.01, 0.9) * (now - signed_up)
    else:
        if kind == "active":
            today = rng.random() < 0.25
            last = now - (rng.uniform(0.01, 0.5) if today else rng.uniform(0.5, 29)) * day
        else:
            last = now - rng.uniform(31, 85) * day
        signed_up = now - rng.uniform(8, 700) * day
        if signed_up >= last:
            signed_up = last - rng.uniform(0.2, 5) * day
        first = max(signed_up, now - rng.uniform(80, 89) * day)
        if first >= last:
            first = max(signed_up, last - rng.uniform(0.1, 2) * day)
    count = max(1, min(12, round((last - first) / day / rng.uniform(6, 20)) + 1))
    starts = sorted([first + rng.random() * (last - first) for _ in range(count - 1)] + [last])
    sessions = [first]
    for start in starts:
        if start - sessions[-1] > timedelta(hours=2):
            sessions.append(start)
    visits = []
    for s, start in enumerate(sessions):
        moments = [start]
        for _ in range(rng.choices((0, 1, 2, 3), (5, 3, 1, 1))[0]):
            moments.append(moments[-1] + timedelta(seconds=rng.randrange(20, 400)))
        if s and s == len(sessions) - 1:  # the last session ends when they were last seen
            moments = [m - (moments[-1] - last) for m in moments]
        visits.append(moments)
    return signed_up, visits


class Demo:
    """The demo's history as steps at moments, run in time order through `handle`."""

    def __init__(
        self,
        store: Parley,
        app_id: str,
        admin_id: str,
        clock: ManualClock,
        locate: Locate,
        users: list[DemoUser],
    ) -> None:
        self.store, self.app_id, self.admin_id, self.clock = store, app_id, admin_id, clock
        self.now = clock.now()
        places = {u.ip: (u.city[0], u.city[1]) for u in users}

        def place(ip: str | None) -> Place:
            return places.get(ip or "") or locate(ip)

        self.locate = place
        self.steps: list[Step] = []
        self.page_views = self.events = self.tagged = self.conversations = 0
        self.auto_message: str | None = None
        self.ping_schema, self.event_schema = PingSchema(), WidgetEventSchema()
        self.view_schema, self.company_schema = WidgetViewSchema(), ApiCompanySchema()

    def at(self, moment: datetime, step: Callable[[], None]) -> None:
        """Run `step` with the clock at `moment` (never later than now)."""
        self.steps.append((min(moment, self.now), len(self.steps), step))

    def run(self) -> None:
        for moment, _, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            self.clock.set(moment)
            step()

    # -- companies: the customer's backend syncs them through the REST API ------------------

    def plan_companies(self, rng: random.Random, companies: list[DemoCompany]) -> None:
        for company in companies:
            company.imported_at = self.now - timedelta(days=89, hours=rng.randrange(0, 20))
            self.at(company.imported_at, partial(self.save_company, company))
            if company.plan == "pro" and rng.random() < 0.35:  # a few grew into enterprise
                upgraded = self.now - timedelta(days=rng.randrange(3, 40))
                self.at(upgraded, partial(self.grow, company, rng.randrange(2000, 6000)))

    def save_company(self, company: DemoCompany) -> None:
        given = {
            "company_id": company.company_id,
            "name": company.name,
            "plan": company.plan,
            "monthly_spend": company.monthly_spend,
            "remote_created_at": int(company.founded.timestamp()),
            "custom_attributes": {
                "industry": company.industry,
                "employees": company.employees,
                "self_serve": company.self_serve,
                "renewal_at": int(company.renewal.timestamp()),
            },
        }
        loaded = self.company_schema.load(given)
        handle(save_company, SaveCompany(self.app_id, loaded), self.store, self.clock)

    def grow(self, company: DemoCompany, spend: int) -> None:
        given = {"company_id": company.company_id, "plan": "enterprise", "monthly_spend": spend}
        given["custom_attributes"] = {"self_serve": False}
        loaded = self.company_schema.load(given)
        handle(save_company, SaveCompany(self.app_id, loaded), self.store, self.clock)

    # -- users: the snippet on every page they view, and what they do there ----------------

    def plan_visits(self, rng: random.Random, user: DemoUser) -> None:
        for s, session in enumerate(user.visits):
            referrer = rng.choice(REFERRERS) if rng.random() < 0.2 else None
            campaign = s > 0 and rng.random() < 0.08
            for p, moment in enumerate(session):
                path = "/" if s == p == 0 else rng.choice(PAGES)
                url = (
                    BASE + path + ("?utm_source=newsletter&utm_campaign=spring" if campaign else "")
                )
                came_from = referrer if p == 0 else None
                self.at(moment, partial(self.ping, user, url, came_from))
            if s > 0:  # what they do in a session, after their first
                self.plan_events(rng, user, rng.choice(session))

    def settings(self, user: DemoUser) -> dict[str, Any]:
        """window.intercomSettings as the customer's page writes it for this user, now."""
        plan, seats = user.plan, user.seats
        if user.upgrade is not None and self.clock.now() >= user.upgrade[0]:
            plan, seats = user.upgrade[1], user.upgrade[2]
        given: dict[str, Any] = {
            "email": user.email,
            "name": user.name,
            "created_at": int(user.signed_up.timestamp()),
            "plan": plan,
            "seats": seats,
            "beta": user.beta,
            "role": user.role,
        }
        if user.user_id is not None:
            given["user_id"] = user.user_id
        if user.trial_ends is not None:
            given["trial_ends_at"] = user.trial_ends.isoformat()
        if user.unsubscribed:
            given["unsubscribed_from_emails"] = True
        if user.companies:
            listed = [{"id": c.company_id, "name": c.name} for c in user.companies]
            given["company"] = listed[0]
            if len(listed) > 1:
                given["companies"] = listed[1:]
        return given

    def ping(self, user: DemoUser, url: str, referrer: str | None) -> None:
        """A boot or update from the snippet, as `POST /widget/ping` records it."""
        loaded: Ping = self.ping_schema.load(
            {
                "app_id": self.app_id,
                "user": self.settings(user),
                "url": url,
                "referrer": referrer,
                "timezone": user.city[2],
            }
        )
        cmd = Ping(**{**loaded.__dict__, "ip": user.ip, "user_agent": user.user_agent})
        saved = handle(record_ping, cmd, self.store, self.clock, self.locate)
        self.page_views += 1
        for message in saved.messages:  # the widget showed it: it reports the view
            seen = {"app_id": self.app_id, "message_id": message.message_id, **user.named()}
            if user.index % 4:
                handle(record_view, self.view_schema.load(seen), self.store, self.clock)

    def plan_events(self, rng: random.Random, user: DemoUser, moment: datetime) -> None:
        keen = 1.6 if user.plan != "free" or user.beta else 1.0
        after = moment + timedelta(seconds=rng.randrange(5, 90))
        if rng.random() < 0.16 * keen:
            metadata = {"project": rng.choice(PROJECTS), "template": rng.choice(TEMPLATES)}
            self.at(after, partial(self.track, user, "created-project", metadata))
        if rng.random() < 0.07 * keen and user.companies:
            invited = {"role": rng.choice(("editor", "viewer", "admin")), "invites": 1}
            invited["invites"] = rng.choice((1, 1, 2, 3, 5))
            self.at(after, partial(self.track, user, "invited-teammate", invited))
        if rng.random() < 0.11 * keen:
            exported: dict[str, Any] = {
                "report": rng.choice(REPORTS),
                "format": rng.choice(("csv", "csv", "pdf", "xlsx")),
                "rows": rng.randrange(12, 48_000),
                "scheduled": rng.random() < 0.3,
            }
            self.at(after, partial(self.track, user, "exported-report", exported))

    def track(self, user: DemoUser, name: str, metadata: dict[str, Any]) -> None:
        """`Intercom('trackEvent', name, metadata)`, as `POST /widget/events` records it."""
        given = {"app_id": self.app_id, "event_name": name, "metadata": metadata, **user.named()}
        loaded = self.event_schema.load(given)
        handle(track_event, loaded, self.store, self.clock, from_snippet=True)
        self.events += 1

    # -- the team: an auto message, tags, conversations ------------------------------------

    def plan_auto_message(self, moment: datetime) -> None:
        def compose() -> None:
            welcome = ComposeAutoMessage(
                app_id=self.app_id,
                message_type="conversation",
                admin_id=self.admin_id,
                subject=None,
                body=WELCOME,
                markup="markdown",
                style=None,
                custom_keys=set(),
                audience={
                    "attribute": "signed_up_at",
                    "operator": "less_than_days_ago",
                    "value": 7,
                },
            )
            message = handle(compose_auto_message, welcome, self.store, self.clock)
            self.auto_message = message.message_id

        self.at(moment, compose)

    def plan_tags(
        self, rng: random.Random, users: list[DemoUser], companies: list[DemoCompany], now: datetime
    ) -> None:
        """A teammate tags people as they come to know them, a few at a time."""
        big = [u for u in users if u.plan == "enterprise" or u.seats >= 15]
        chosen = {
            "VIP": rng.sample(big, min(14, len(big))),
            "Beta tester": [u for u in users if u.beta],
            "Churn risk": _some(rng, [u for u in users if u.kind == "slipping"], 18),
            "Needs onboarding": [u for u in users if u.kind == "new"][:8],
            "Newsletter": _some(rng, users, 25),
        }
        for name, tagged in chosen.items():
            for user in tagged:
                after = user.first_seen + timedelta(hours=rng.uniform(1, 96))
                ref = UserRef(user_id=user.user_id) if user.user_id else UserRef(email=user.email)
                self.at(after, partial(self.tag, name, users=[ref]))
        spenders = sorted(companies, key=lambda c: -c.monthly_spend)
        for name, tagged_companies in (
            ("VIP", spenders[:3]),
            ("Churn risk", [c for c in companies if c.plan == "free"][:2]),
            ("Partner", spenders[5:7]),
        ):
            for company in tagged_companies:
                after = company.imported_at + timedelta(days=rng.uniform(1, 60))
                ref_c = CompanyRef(company_id=company.company_id)
                self.at(after, partial(self.tag, name, companies=[ref_c]))

    def tag(
        self,
        name: str,
        users: list[UserRef] | None = None,
        companies: list[CompanyRef] | None = None,
    ) -> None:
        given = SaveTag(
            self.app_id, name, users=users or [], companies=companies or [], by=self.admin_id
        )
        handle(save_tag, given, self.store, self.clock)
        self.tagged += 1

    def plan_conversations(self, rng: random.Random, users: list[DemoUser], now: datetime) -> None:
        """A handful of conversations: users write in from the widget, the team answers."""
        known = [u for u in users if u.user_id is not None]  # whom the widget can name
        taken: set[int] = set()

        def pick(wanted: Callable[[DemoUser], bool]) -> DemoUser:
            found = next(u for u in known if u.index not in taken and wanted(u))
            taken.add(found.index)
            return found

        def today(u: DemoUser) -> bool:
            return u.kind == "active" and now - u.last_seen < timedelta(hours=12)

        def active(u: DemoUser) -> bool:
            return u.kind == "active" and not today(u)

        minute = timedelta(minutes=1)
        stories: list[tuple[DemoUser, list[tuple[timedelta, str, str]]]] = [
            (pick(today), [
                (0 * minute, "user", "Hi! Is there a way to export reports as PDF with our logo?"),
                (6 * minute, "admin", "Hi {first}! Yes: Settings → Branding, then every PDF "
                 "export carries your logo. Want me to switch it on for you?"),
                (9 * minute, "user", "Found it, perfect. Thanks!"),
                (12 * minute, "close", ""),
            ]),
            (pick(lambda u: u.kind == "new"), [
                (0 * minute, "user", "I can't find where to invite my teammates :("),
                (20 * minute, "note", "Third time this week: the invite button hides in the "
                 "team menu. Filed as PROD-231."),
                (22 * minute, "admin", "Hi {first}, it's under Settings → Team → Invite. "
                 "We're making it easier to find!"),
            ]),
            (pick(lambda u: active(u) and u.plan == "enterprise"), [
                (0 * minute, "user", "Our SSO login fails since this morning (error 403)."),
                (4 * minute, "assign", "Taking this one: looks like their IdP certificate "
                 "rotated."),
                (9 * minute, "admin", "Thanks for the report, {first}. Looking into it now, "
                 "I'll update you within the hour."),
            ]),
            (pick(lambda u: u.kind == "slipping"), [
                (0 * minute, "user", "How do I cancel my subscription?"),
                (35 * minute, "admin", "Sorry to see you go, {first}. Billing → Plan → "
                 "Cancel; your data stays for 30 days. Anything we could have done better?"),
                (50 * minute, "close", ""),
            ]),
            (pick(today), [
                (0 * minute, "user", "Bonjour ! Est-ce que l'application existe en français ?"),
            ]),
            (pick(active), [
                (0 * minute, "user", "Feature request: dark mode please!"),
                (90 * minute, "note", "+1 for dark mode (12th request this quarter)."),
                (92 * minute, "admin", "Noted, {first}! It's on our roadmap for the summer."),
                (95 * minute, "close", ""),
            ]),
            (pick(active), [
                (0 * minute, "user", "The CSV export stops at 10,000 rows."),
                (15 * minute, "admin", "Hi {first}, exports over 10k rows are emailed as a "
                 "zip. Did you get one?"),
                (180 * minute, "user", "No email arrived, and I checked spam."),
            ]),
            (pick(lambda u: u.kind == "slipping"), [
                (0 * minute, "user", "¿Puedo cambiar el plan a mitad de mes?"),
                (25 * minute, "admin", "¡Claro, {first}! El cambio se prorratea al día."),
                (30 * minute, "read", ""),
                (40 * minute, "user", "¡Gracias!"),
                (60 * minute, "close", ""),
            ]),
        ]  # fmt: skip
        for user, parts in stories:
            self.plan_conversation(user, parts, user.last_seen + timedelta(seconds=20))
        for question, answer in QUESTIONS:  # and the everyday ones, answered and mostly closed
            user = rng.choice([u for u in known if u.index not in taken])
            taken.add(user.index)
            waited = timedelta(minutes=rng.randrange(4, 150))
            parts = [(0 * minute, "user", question), (waited, "admin", answer)]
            if rng.random() < 0.4:
                parts.append((waited + rng.randrange(2, 30) * minute, "user", rng.choice(THANKS)))
            if rng.random() < 0.75:
                parts.append((parts[-1][0] + rng.randrange(1, 20) * minute, "close", ""))
            session = rng.choice(user.visits)
            self.plan_conversation(user, parts, rng.choice(session) + timedelta(seconds=30))

    def plan_conversation(
        self, user: DemoUser, parts: list[tuple[timedelta, str, str]], started: datetime
    ) -> None:
        first = user.name.split()[0]
        holder: dict[str, str] = {}
        user_key = user_id_key(self.app_id, user.user_id).hex if user.user_id else None
        assert user_key is not None, "the demo's conversations are with users with a user_id"
        me = {"type": "user", "id": user_key}
        admin = {"type": "admin", "id": self.admin_id}

        def step(kind: str, body: str) -> None:
            if kind == "user" and not holder:
                cmd = StartConversation(self.app_id, user_key, body, via="widget")
                holder["id"] = handle(start_by_user, cmd, self.store, self.clock).conversation_id
                self.conversations += 1
                return
            conversation = holder["id"]
            if kind == "read":
                handle(mark_read, MarkRead(self.app_id, conversation, me), self.store, self.clock)
                return
            if kind == "user":
                said = Reply(self.app_id, conversation, me, "comment", body, via="widget")
            elif kind == "admin":
                said = Reply(self.app_id, conversation, admin, "comment", body.format(first=first))
            elif kind == "note":
                said = Reply(self.app_id, conversation, admin, "note", body)
            elif kind == "assign":
                said = Reply(self.app_id, conversation, admin, "assignment", body, self.admin_id)
            else:
                said = Reply(self.app_id, conversation, admin, kind)
            handle(reply, said, self.store, self.clock)

        for offset, kind, body in parts:
            self.at(started + offset, partial(step, kind, body))

    def plan_personal_messages(self, rng: random.Random, users: list[DemoUser]) -> None:
        """A teammate writes to a few users in person; each sees it on their next visit."""
        regulars = [u for u in users if u.user_id is not None and len(u.visits) >= 4]
        for user in rng.sample(regulars, min(15, len(regulars))):
            k = rng.randrange(1, len(user.visits) - 1)
            gap = user.visits[k + 1][0] - user.visits[k][-1]
            body = rng.choice(NUDGES).format(first=user.name.split()[0])
            self.at(user.visits[k][-1] + gap / 2, partial(self.write_to, user, body))

    def write_to(self, user: DemoUser, body: str) -> None:
        """A teammate's manual in-app message to one user, as `POST /messages` sends it."""
        user_key = user_id_key(self.app_id, user.user_id or "").hex

        def compose() -> Message:
            return Message.compose(
                app_id=self.app_id,
                kind="manual",
                message_type="conversation",
                admin_id=self.admin_id,
                subject=None,
                body=body,
                markup="markdown",
                style=None,
                custom_keys=set(),
                at=self.clock.now(),
                recipients=[user_key],
            )

        handle(send_in_app, SendInApp(user_key), self.store, self.clock, compose=compose)
