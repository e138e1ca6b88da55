"""City and country from IP, using a small MaxMind-format database the test builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from commands.geoip import Locator
from queries.users import find_user
from tests.helpers import ping
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config


def city_record(city: str, country: str) -> dict[str, object]:
    return {
        "city": {"names": {"en": city}},
        "country": {"names": {"en": country}, "iso_code": country[:2].upper()},
    }


@pytest.fixture
def geoip_db(tmp_path: Path) -> str:
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City", languages=["en"]
    )
    writer.insert_network(IPSet(["81.2.69.0/24"]), city_record("London", "United Kingdom"))
    writer.insert_network(IPSet(["2.125.160.0/24"]), city_record("Boxford", "United Kingdom"))
    writer.insert_network(IPSet(["89.160.20.0/24"]), city_record("Linköping", "Sweden"))
    path = tmp_path / "cities.mmdb"
    writer.to_db_file(str(path))
    return str(path)


def test_locator_finds_city_and_country_and_ignores_unknown_or_private(geoip_db: str) -> None:
    locate = Locator(geoip_db)
    try:
        assert locate("81.2.69.142") == ("London", "United Kingdom")
        assert locate("89.160.20.112") == ("Linköping", "Sweden")
        assert locate("8.8.8.8") == (None, None)
        assert locate("192.168.1.10") == (None, None)
        assert locate("not an ip") == (None, None)
        assert locate(None) == (None, None)
    finally:
        locate.close()


def test_pings_record_where_the_user_is_when_geoip_db_is_set(
    geoip_db: str, database_url: str, clock: ManualClock
) -> None:
    config = Config(database_url=database_url, secret_key="t", geoip_db=geoip_db)
    migrate(config)
    services = bootstrap(config, clock)
    try:
        app = create_app(CreateApp("Geo"), services.store, clock)
        ping(services, app.app_id, {"user_id": "traveller"}, ip="81.2.69.142")
        services.runner.catch_up()
        with services.engine.connect() as conn:
            user = find_user(conn, app.app_id, now=services.clock.now(), user_id="traveller")
        assert user is not None and (user["city"], user["country"]) == ("London", "United Kingdom")
        ping(services, app.app_id, {"user_id": "traveller"}, ip="89.160.20.112")
        ping(services, app.app_id, {"user_id": "traveller"}, ip="10.0.0.1")
        services.runner.catch_up()
        with services.engine.connect() as conn:
            user = find_user(conn, app.app_id, now=services.clock.now(), user_id="traveller")
        # An address the database cannot place keeps the last known location.
        assert user is not None and (user["city"], user["country"]) == ("Linköping", "Sweden")
        assert user["last_seen_ip"] == "10.0.0.1"
    finally:
        services.close()


def test_without_geoip_db_location_stays_unknown(services: Services, app: CreatedApp) -> None:
    ping(services, app.app_id, {"user_id": "u"}, ip="81.2.69.142")
    services.runner.catch_up()
    with services.engine.connect() as conn:
        user = find_user(conn, app.app_id, now=services.clock.now(), user_id="u")
    assert user is not None and user["city"] is None and user["country"] is None
