"""Fixtures that build the world with Parley's own commands, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from tests.helpers import basic
from tests.smtp import smtp  # noqa: F401 (a fixture for every test module)
from web.app import create_app as create_web_app
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config

DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """PostgreSQL is on every developer and CI machine: unreachable means failing, not skipping."""
    configured = os.environ.get("DATABASE_URL", "")
    return configured if configured.startswith("postgresql") else DEFAULT_POSTGRES


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = postgres_url()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as error:  # pragma: no cover - the failure is the point
        pytest.fail(f"PostgreSQL at {url} is unreachable: {error}")
    finally:
        engine.dispose()
    return url


def fresh_postgres_schema(server_url: str) -> tuple[str, str]:
    """A URL whose connections live in a new schema, so each test starts empty."""
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_postgres_schema(server_url: str, schema: str) -> None:
    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/parley.db"
        return
    server = request.getfixturevalue("postgres_server")
    url, schema = fresh_postgres_schema(server)
    yield url
    drop_postgres_schema(server, schema)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    url, schema = fresh_postgres_schema(postgres_server)
    yield url
    drop_postgres_schema(postgres_server, schema)


@pytest.fixture
def pg_services(pg_url: str, clock: ManualClock) -> Iterator[Services]:
    """Services on PostgreSQL only, for what SQLite cannot show (concurrent writers, killed
    connections)."""
    config = Config(database_url=pg_url, secret_key="test", sweep_seconds=0)
    migrate(config)
    built = bootstrap(config, clock)
    yield built
    built.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(database_url: str, tmp_path: object) -> Config:
    # Tests sweep by calling the sweeper, not on a timer.
    outbox = f"{tmp_path}/outbox"
    return Config(database_url=database_url, secret_key="test", outbox_dir=outbox, sweep_seconds=0)


@pytest.fixture
def services(config: Config, clock: ManualClock) -> Iterator[Services]:
    migrate(config)
    built = bootstrap(config, clock)
    yield built
    built.close()


@pytest.fixture
def app(services: Services, clock: ManualClock) -> CreatedApp:
    return create_app(CreateApp("Acme"), services.store, clock)


@pytest.fixture
def client(services: Services) -> Iterator[FlaskClient]:
    """The web app over the test services, projections running as in production."""
    services.runner.start()
    web = create_web_app(services=services, follow=True)
    yield web.test_client()
    for follower in web.extensions["parley_followers"]:
        follower.stop()
    web.extensions["parley_jobs"].stop()
    web.extensions["parley_live"].stop()


@pytest.fixture
def auth(app: CreatedApp) -> dict[str, str]:
    return basic(app)
