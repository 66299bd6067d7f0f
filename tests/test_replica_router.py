"""The read-replica router (issue 25): the council, report and planner pages read from `replica` when one is
configured; intake, dispatch, the crew API and every write stay on the primary. Actors: Cora, a council
member; Rosa's app."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from django.contrib.gis.geos import Point
from django.http import HttpResponse
from django.test import RequestFactory

from field_api.reports.models import CouncilSeat
from gis_app.db_router import ReplicaForReading, ReplicaRouter, reading_alias
from gis_app.models import ServiceRequest
from tests.conftest import file_request, wait_until
from tests.test_faults import ROOT, free_port, run_scenario
from tests.test_reports import person

ROUTER = ReplicaRouter()
DEPLOY = ROOT / "scripts" / "deploy"


def routed(settings, method: str, path: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(where a read goes, where a write goes) while the middleware serves method + path."""
    seen: dict[str, str] = {}

    def view(request):  # type: ignore[no-untyped-def]
        seen["read"] = ROUTER.db_for_read(ServiceRequest)
        seen["write"] = ROUTER.db_for_write(ServiceRequest)
        seen["raw"] = reading_alias()
        return HttpResponse()

    ReplicaForReading(view)(getattr(RequestFactory(), method)(path))
    assert seen["raw"] == seen["read"]  # the reports' raw SQL goes where the ORM's reads go
    return seen["read"], seen["write"]


def test_reading_pages_read_from_the_replica_and_everything_else_from_the_primary(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES, "replica", dict(settings.DATABASES["default"]))
    for path in ["/council/", "/council/wards/3/", "/reports/?by=ward", "/planner/runs/1/"]:
        assert routed(settings, "get", path) == ("replica", "default"), path
    for method, path in [
        ("post", "/planner/runs/"),
        ("get", "/intake/"),
        ("get", "/api/crew/route/"),
        ("post", "/open311/v2/requests.json"),
        ("get", "/dispatch/"),
    ]:
        assert routed(settings, method, path) == ("default", "default"), path
    assert ROUTER.db_for_read(ServiceRequest) == "default"  # outside any request
    assert ROUTER.allow_migrate("replica", "gis_app") is False and ROUTER.allow_migrate("default", "gis_app")


def test_with_no_replica_configured_everything_reads_the_primary(settings):
    assert "replica" not in settings.DATABASES
    assert routed(settings, "get", "/reports/") == ("default", "default")


SCENARIO = r"""
import json, django
django.setup()
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.contrib.auth import get_user_model
c = Client()
c.force_login(get_user_model().objects.get(username="cora"))
with connections["replica"].cursor() as cur:
    cur.execute("SELECT pg_is_in_recovery()")
    standby = cur.fetchone()[0]
statuses = {}
with CaptureQueriesContext(connections["replica"]) as replica, CaptureQueriesContext(connections["default"]) as primary:
    for path in ["/reports/?by=ward", "/council/", "/council/wards/2/"]:
        statuses[path] = c.get(path).status_code
report = {"standby": standby, "statuses": statuses, "replica": len(replica.captured_queries),
          "primary": [q["sql"][:60] for q in primary.captured_queries]}
print(json.dumps(report))
"""
ROLE, SLOT = "gis311_test_replicator", "gis311_test_standby"


def _sql(statement: str, *params: object) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def _forget_replication() -> None:
    _sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", SLOT)
    _sql(f'DROP ROLE IF EXISTS "{ROLE}"')


@pytest.fixture
def hot_standby(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A streaming hot standby of the test database's cluster, made as the compose file makes its replica:
    scripts/deploy/primary-init.sh creates the replication role, scripts/deploy/replica.sh copies the primary
    (with a replication slot) and starts the copy. Yields the standby's port; stopped, its slot and role
    dropped after."""
    from django.db import connection

    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", str(db["PORT"] or 5432)
    major = int(_sql("SHOW server_version_num")[0][0]) // 10000
    pg_bin = Path(f"/usr/lib/postgresql/{major}/bin")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    here = tempfile.mkdtemp(prefix="gis311-standby-")
    # The PostgreSQL user may not be able to read the checkout (a clone in a private directory): it runs a copy.
    script = shutil.copy(DEPLOY / "replica.sh", f"{here}/replica.sh")
    if as_postgres:
        shutil.chown(here, "postgres")
    primary_dir = tmp_path_factory.mktemp("primary")
    (primary_dir / "pg_hba.conf").write_text("")
    _forget_replication()
    subprocess.run(
        ["sh", str(DEPLOY / "primary-init.sh")],
        env=dict(os.environ, REPLICATION_PASSWORD="pw-for-tests-only", REPLICATION_USER=ROLE,
                 POSTGRES_USER=db["USER"], POSTGRES_DB=db["NAME"], PGDATA=str(primary_dir), PGHOST=host, PGPORT=port),
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert (primary_dir / "pg_hba.conf").read_text().split() == [
        "host",
        "replication",
        ROLE,
        "samenet",
        "scram-sha-256",
    ]
    standby_port, data = free_port(), f"{here}/data"
    env = dict(
        os.environ, PRIMARY_HOST=host, PRIMARY_PORT=port, REPLICATION_USER=ROLE, PGPASSWORD="pw-for-tests-only",
        PGDATA=data, PGPORT=str(standby_port), REPLICATION_SLOT=SLOT, LISTEN_ADDRESSES="127.0.0.1",
        STANDBY_HBA_FILE=str(_sql("SHOW hba_file")[0][0]), PG_BIN=str(pg_bin) if pg_bin.is_dir() else "",
    )  # fmt: skip
    log = open(f"{here}.log", "wb")  # noqa: SIM115  # closed below, after the standby stops
    server = subprocess.Popen(
        [*as_postgres, "sh", script, "-c", f"unix_socket_directories={here}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def the_log() -> str:
        return Path(f"{here}.log").read_text()[-3000:]

    def ready() -> bool:
        assert server.poll() is None, the_log()  # the script or the standby stopped: say why
        asked = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(standby_port)]
        return subprocess.run(asked, check=False).returncode == 0

    try:
        wait_until(ready, 60, the_log)
        yield standby_port
    finally:
        pid = Path(data, "postmaster.pid")
        if pid.exists():
            os.kill(int(pid.read_text().split()[0]), signal.SIGINT)  # a fast shutdown
        server.wait(timeout=60)
        log.close()
        _forget_replication()
        shutil.rmtree(here, ignore_errors=True)
        Path(f"{here}.log").unlink(missing_ok=True)


@pytest.mark.django_db(transaction=True)
def test_reading_pages_are_served_by_a_streaming_hot_standby(hot_standby, two_square_wards, pothole):
    """Cora's ward pages read from a real read-only standby (any write routed there would fail), and see a
    request filed on the primary after the standby was copied: it streams."""
    from django.db import connection

    user = person("cora", "council member")
    CouncilSeat.objects.create(user=user, ward_number=2)
    filed = file_request("pothole", Point(1.5, 0.5, srid=4326))
    replica = f"postgis://{connection.settings_dict['USER']}@127.0.0.1:{hot_standby}/{connection.settings_dict['NAME']}"
    db = connection.settings_dict
    ask = f"SELECT count(*) FROM gis_app_servicerequest WHERE ticket = '{filed.ticket}'"
    on_standby = ["psql", "-h", "127.0.0.1", "-p", str(hot_standby), "-U", db["USER"], "-d", db["NAME"], "-Atc", ask]
    wait_until(
        lambda: subprocess.run(on_standby, capture_output=True, text=True, check=False).stdout.strip() == "1",
        30,
        "the request filed on the primary never reached the standby",
    )
    report = run_scenario(SCENARIO, DATABASE_REPLICA_URL=replica)
    assert report["standby"] is True
    assert set(report["statuses"].values()) == {200}, report["statuses"]
    assert report["replica"] >= 3
    # The primary answers only for the session and the signed-in user (auth reads before the page).
    assert all("django_session" in q or "auth_" in q or "reports_councilseat" in q for q in report["primary"]), report


def test_the_compose_file_runs_the_tested_scripts_with_what_they_require():
    """No Docker engine runs here, so the compose file is checked against what the test above runs: the
    replica service starts replica.sh and the primary runs primary-init.sh, each given every variable the
    script requires (its `${VAR:?}` lines); every file it mounts or builds from is in the repository; the web
    tier's replica URL names the replica service."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]

    def required(script: str) -> set[str]:
        return set(re.findall(r"\$\{(\w+):\?", (DEPLOY / script).read_text()))

    def mounted(service: str) -> dict[str, str]:
        return {v.split(":")[1]: v.split(":")[0] for v in services[service]["volumes"] if v.startswith("./")}

    replica = services["replica"]
    assert replica["entrypoint"][-1] in mounted("replica") and mounted("replica")[replica["entrypoint"][-1]] == (
        "./replica.sh"
    )
    assert required("replica.sh") <= set(replica["environment"])
    assert "./primary-init.sh" in mounted("db").values()
    assert any(p.startswith("/docker-entrypoint-initdb.d/") for p in mounted("db"))
    assert required("primary-init.sh") <= set(services["db"]["environment"])
    for service in ("replica", "db"):
        for source in mounted(service).values():
            assert (DEPLOY / source).is_file(), source
    web = services["web"]
    assert (ROOT / web["build"]["dockerfile"]).is_file()
    assert "@replica:" in web["environment"]["DATABASE_REPLICA_URL"] and "replica" in web["depends_on"]
