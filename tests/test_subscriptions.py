"""Live updates: `subscription { incidentChanges }` over graphql-transport-ws, against the real
API (in-process and `itsm serve --workers 2`), a real worker, Neo4j and Redis."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from core.incidents import INCIDENT
from domain.incidents import events, lifecycle
from domain.tokens import issue_token, revoke_token
from graphdb import feed, timers
from graphdb.driver import Graph
from graphdb.write_path import Store, UnitOfWork
from itsm.app import create_app
from itsm.background import free_port
from itsm.config import Settings
from tests.conftest import Api, RunningServer
from tests.incident_timer_kinds import MARK_INCIDENT
from tests.processes import ItsmProcess, RedisServer, start_itsm, start_worker, wait_for
from tests.test_governing import shop  # noqa: F401 (a fixture)
from tests.test_incidents import UPDATE, governed, open_incident, step  # noqa: F401
from workers.broker import install_broker, publish

CHANGES = """
subscription($filter: IncidentChangeFilter) {
  incidentChanges(filter: $filter) { kind version incident { id number title state priority version } }
}
"""
WORKER_ENV = {"ITSM_EXTENSION_MODULES": "tests.incident_timer_kinds", "ITSM_SWEEP_SECONDS": "1"}


# -- a graphql-transport-ws client ----------------------------------------------------------------


class Subscriber:
    """One websocket, one subscription; `next()` is the next change it was told of."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    def message(self, timeout: float = 20) -> dict[str, Any]:
        return dict(json.loads(self.ws.recv(timeout=timeout)))

    def next(self, timeout: float = 20) -> dict[str, Any]:
        message = self.message(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        change: dict[str, Any] = message["payload"]["data"]["incidentChanges"]
        return change

    def next_about(self, number: str, timeout: float = 20) -> dict[str, Any]:
        """The next change to incident `number`, passing over changes to others."""
        while True:
            change = self.next(timeout)
            if change["incident"]["number"] == number:
                return change

    def nothing_within(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            self.ws.recv(timeout=seconds)

    @property
    def local_port(self) -> int:
        return int(self.ws.local_address[1])


_OPENED: list[ClientConnection] = []


@pytest.fixture(autouse=True)
def close_websockets() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/graphql"


def open_connection(
    url: str, init: dict[str, Any] | None, origin: str | None = None
) -> ClientConnection:
    ws = connect(
        ws_url(url),
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        origin=origin,  # type: ignore[arg-type]
        open_timeout=20,
        legacy=True,  # held across helpers; `opened` closes them after each test
    )
    _OPENED.append(ws)
    ws.send(json.dumps({"type": "connection_init", "payload": init or {}}))
    return ws


def subscribe(
    url: str,
    token: str | None,
    variables: dict[str, Any] | None = None,
    *,
    init: dict[str, Any] | None = None,
    listening: Callable[[], None] | None = None,
) -> Subscriber:
    """Connect, authenticate, subscribe; `listening` returns once the server has the
    subscription."""
    ws = open_connection(url, init if init is not None else {"Authorization": f"Bearer {token}"})
    ack = json.loads(ws.recv(timeout=20))
    assert ack["type"] == "connection_ack", ack
    ws.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": CHANGES, "variables": variables}}
        )
    )
    if listening is not None:
        listening()
    return Subscriber(ws)


def started(app_feed: feed.Feed) -> Callable[[], None]:
    """Waits until `app_feed` has started one more subscription than it had when called."""
    before = app_feed.started

    def wait() -> None:
        wait_for(lambda: app_feed.started > before, 20, what="the subscription to start")

    return wait


@pytest.fixture
def live(api_server: RunningServer) -> Callable[..., Subscriber]:
    """Subscribe to the in-process API; returns once its feed has the new subscriber."""
    app_feed: feed.Feed = api_server.app.state.feed

    def start(token: str | None, variables: dict[str, Any] | None = None, **kw: Any) -> Subscriber:
        return subscribe(api_server.url, token, variables, listening=started(app_feed), **kw)

    return start


# -- one API process -------------------------------------------------------------------------------


def retitle(api: Api, incident: dict[str, Any], title: str) -> dict[str, Any]:
    answer = api.ok(UPDATE, {"input": {"id": incident["id"], "title": title}})["updateIncident"]
    assert answer["userErrors"] == [], answer["userErrors"]
    changed: dict[str, Any] = answer["incident"]
    return changed


def test_a_subscriber_hears_an_incident_opened_then_changed_in_order(
    api: Api,
    governed: dict[str, str],  # noqa: F811
    live: Callable[..., Subscriber],
) -> None:
    subscriber = live(api.token)

    opened = open_incident(api, title="Checkout fails", ci=governed["db"], urgency="HIGH")
    started = step(api, opened, "IN_PROGRESS")["incident"]

    first, second = subscriber.next(), subscriber.next()
    assert first["kind"] == "CREATED"
    assert first["incident"]["id"] == opened["id"]
    assert first["incident"]["number"] == opened["number"]
    assert first["incident"]["priority"] == opened["priority"]
    assert first["version"] == opened["version"]
    assert second["kind"] == "CHANGED"
    assert second["version"] == started["version"] > first["version"]
    assert second["incident"]["state"] == "IN_PROGRESS"
    assert second["incident"]["version"] == started["version"]
    subscriber.nothing_within(0.5)


def test_a_team_filter_tells_only_of_that_teams_incidents(
    api: Api,
    governed: dict[str, str],  # noqa: F811
    live: Callable[..., Subscriber],
) -> None:
    subscriber = live(api.token, {"filter": {"teams": [governed["dbas"]]}})

    open_incident(api, title="Web page slow", team=governed["web"])
    theirs = open_incident(api, title="Replica lagging", ci=governed["db"])
    assert theirs["team"] == {"name": "DBAs"}  # routed by the OLA

    heard = subscriber.next()
    assert heard["incident"]["number"] == theirs["number"]
    subscriber.nothing_within(0.5)


def test_service_and_priority_filters_must_all_match(
    api: Api,
    governed: dict[str, str],  # noqa: F811
    live: Callable[..., Subscriber],
) -> None:
    shop_service = governed["shop"]
    subscriber = live(
        api.token, {"filter": {"services": [shop_service], "priorities": ["P1", "P2"]}}
    )

    nowhere = open_incident(api, title="Urgent, on no CI", impact="HIGH", urgency="HIGH")
    low = open_incident(
        api, title="Shop a bit slow", ci=governed["db"], impact="LOW", urgency="LOW"
    )
    down = open_incident(api, title="Shop down", ci=governed["db"], impact="HIGH", urgency="HIGH")
    assert nowhere["priority"] in ("P1", "P2") and low["priority"] not in ("P1", "P2")
    assert down["priority"] in ("P1", "P2")

    assert subscriber.next()["incident"]["number"] == down["number"]
    subscriber.nothing_within(0.5)


def test_an_unknown_team_in_the_filter_is_a_typed_error(api: Api) -> None:
    ws = open_connection(api.url, {"Authorization": f"Bearer {api.token}"})
    assert json.loads(ws.recv(timeout=20))["type"] == "connection_ack"
    for filter, field, code, named in (
        (
            {"teams": [to_global_id("Team", "no-such-team")]},
            "filter.teams",
            "NOT_FOUND",
            "no-such-team",
        ),
        ({"services": ["no-such-service"]}, "filter.services", "NOT_FOUND", "no-such-service"),
        (
            {"teams": [to_global_id("CI", "a-ci")]},
            "filter.teams",
            "BAD_USER_INPUT",
            "not of a Team",
        ),
    ):
        ws.send(
            json.dumps(
                {
                    "id": field,
                    "type": "subscribe",
                    "payload": {"query": CHANGES, "variables": {"filter": filter}},
                }
            )
        )
        refused = json.loads(ws.recv(timeout=20))
        assert refused["type"] == "error", refused
        [error] = refused["payload"]
        assert error["extensions"]["field"] == field, error
        assert error["extensions"]["code"] == code, error
        assert named in error["message"], error


def test_a_missing_or_unknown_token_closes_the_connection_with_the_reason(api: Api) -> None:
    for init, reason in (
        ({"Authorization": "Bearer itsm_not-a-token"}, "unknown or revoked API token"),
        ({"token": "itsm_not-a-token"}, "unknown or revoked API token"),
        ({}, "missing API token"),
        ({"Authorization": "Basic abc"}, "must be 'Bearer <token>'"),
    ):
        ws = open_connection(api.url, init)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403, init
        assert reason in closed.value.rcvd.reason, init


def test_the_token_may_come_bare_and_a_viewer_may_subscribe(
    api: Api, store: Store, live: Callable[..., Subscriber]
) -> None:
    viewer = api.as_role(store, "viewer")
    subscriber = live(None, init={"token": viewer.token})

    opened = open_incident(api, title="Printer jam")

    assert subscriber.next()["incident"]["number"] == opened["number"]


def test_revoking_the_token_ends_its_subscription(
    api: Api, store: Store, live: Callable[..., Subscriber]
) -> None:
    issued = issue_token(store, SYSTEM, "viewer", "wallboard")
    subscriber = live(issued.secret)
    first = open_incident(api, title="Before the revocation")
    assert subscriber.next()["incident"]["number"] == first["number"]

    revoke_token(store, SYSTEM, issued.id)
    open_incident(api, title="After the revocation")

    ended = subscriber.message()
    assert ended["type"] == "next" and ended["payload"]["data"] is None, ended
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert subscriber.message()["type"] == "complete"


def test_without_a_broker_the_api_process_tells_its_own_subscribers(
    settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    development = dataclasses.replace(settings, broker_url=None)
    try:
        with RunningServer(create_app(development)) as server:
            api = Api(server.url, issue_token(store, SYSTEM, "agent", "dev agent").secret)
            app_feed: feed.Feed = server.app.state.feed
            subscriber = subscribe(
                server.url,
                api.token,
                listening=started(app_feed),
            )
            opened = open_incident(api, title="Laptop will not boot")
            retitle(api, opened, "Laptop will not boot after the update")
            heard = [subscriber.next() for _ in range(2)]
            assert [h["kind"] for h in heard] == ["CREATED", "CHANGED"]
            assert heard[1]["incident"]["title"] == "Laptop will not boot after the update"
            subscriber.ws.close()  # the server waits for open connections when it stops
    finally:
        install_broker(settings.broker_url)
    assert any("live updates reach only the subscribers of this API process" in r.message
               for r in caplog.records)  # fmt: skip


@pytest.fixture
def open_server(settings: Settings, session_store: Store) -> Iterator[RunningServer]:
    """An API that lets tokenless viewers read, and lets pages of one other origin in."""
    allowed = dataclasses.replace(
        settings, anonymous_read=True, cors_origins=("https://portal.example.com",)
    )
    with RunningServer(create_app(allowed)) as server:
        yield server


def test_anonymous_read_lets_a_tokenless_viewer_subscribe(
    open_server: RunningServer, api: Api
) -> None:
    app_feed: feed.Feed = open_server.app.state.feed
    subscriber = subscribe(
        open_server.url,
        None,
        init={},
        listening=started(app_feed),
    )

    opened = open_incident(api, title="Wi-Fi flaky")  # through the other API process

    assert subscriber.next()["incident"]["number"] == opened["number"]


def test_a_page_of_an_origin_not_allowed_cannot_open_a_websocket(
    open_server: RunningServer, api: Api
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_connection(open_server.url, {}, origin="https://evil.example.com")
    assert refused.value.response.status_code == 403
    ws = open_connection(open_server.url, {}, origin="https://portal.example.com")
    assert json.loads(ws.recv(timeout=20))["type"] == "connection_ack"
    # Without ITSM_CORS_ORIGINS no other origin may subscribe either.
    with pytest.raises(InvalidStatus):
        open_connection(api.url, {}, origin="https://portal.example.com")


# -- announcing never fails a write ----------------------------------------------------------------


def test_a_write_commits_when_redis_is_away_and_a_rolled_back_one_is_not_announced(
    settings: Settings, api: Api, store: Store, live: Callable[..., Subscriber]
) -> None:
    nowhere = feed.RedisAnnouncer(f"redis://127.0.0.1:{free_port()}/0")
    dead = Store(Graph(settings.graph_config()), publish, nowhere)
    try:
        written = lifecycle.open_incident(
            dead, SYSTEM, INCIDENT, {"title": "Written while Redis is away"}
        )
    finally:
        dead.graph.close()
    read = api.ok("query($id: ID!) { incident(id: $id) { title } }", {"id": written["id"]})
    assert read["incident"] == {"title": "Written while Redis is away"}

    subscriber = live(api.token)
    writer = Store(Graph(settings.graph_config()), publish, feed.announcer_for(settings.broker_url))

    def refused(uow: UnitOfWork) -> None:
        lifecycle.open_incident_in(uow, {"title": "Never committed"})
        raise RuntimeError("rolled back")

    try:
        with pytest.raises(RuntimeError):
            writer.write(SYSTEM, refused)
        committed = lifecycle.open_incident(writer, SYSTEM, INCIDENT, {"title": "Committed"})
    finally:
        writer.graph.close()

    assert subscriber.next()["incident"]["number"] == committed["number"]


def test_after_redis_comes_back_the_api_listens_again_and_writes_never_waited(
    settings: Settings, store: Store
) -> None:
    own_redis = RedisServer().start()
    try:
        with RunningServer(
            create_app(dataclasses.replace(settings, broker_url=own_redis.url))
        ) as server:
            api = Api(server.url, issue_token(store, SYSTEM, "agent", "restart").secret)
            app_feed: feed.Feed = server.app.state.feed
            subscriber = subscribe(server.url, api.token, listening=started(app_feed))
            own_redis.stop()

            began = time.monotonic()
            away = open_incident(api, title="While Redis is away")
            assert time.monotonic() - began < 10
            own_redis.start()
            # Nothing tells a client when the listener is back: keep changing until it hears.
            for attempt in range(60):
                back = retitle(api, away, f"Redis is back ({attempt})")
                try:
                    heard = subscriber.next_about(away["number"], timeout=1)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("no change reached the subscriber after Redis came back")
            assert heard["version"] <= back["version"]
            subscriber.ws.close()
    finally:
        install_broker(settings.broker_url)
        own_redis.close()


# -- several API processes and a worker ------------------------------------------------------------


def serving_pid(parent: int, server_port: int, client_port: int) -> int | None:
    """Which child of `parent` holds the server's end of the connection from `client_port`
    (read from /proc, as `ss -p` does)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (
                int(local.split(":")[1], 16) == server_port
                and int(remote.split(":")[1], 16) == client_port
            ):
                inode = fields[9]
    if inode is None:
        return None
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for child in map(int, children):
        for fd in Path(f"/proc/{child}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return child
            except OSError:
                continue
    return None


def test_subscribers_of_every_api_process_hear_a_change_made_in_another_and_in_a_worker(
    settings: Settings, store: Store, itsm_processes: list[ItsmProcess]
) -> None:
    port = free_port()
    serve = start_itsm(
        itsm_processes,
        settings,
        "serve",
        "--workers",
        "2",
        ready="Application startup complete",
        env={"ITSM_PORT": str(port)},
    )
    wait_for(
        lambda: serve.output().count("Application startup complete") >= 2,
        60,
        (serve,),
        "both API processes to start",
    )
    start_worker(itsm_processes, settings, "--no-scheduler", env=WORKER_ENV)
    url = f"http://127.0.0.1:{port}"
    token = issue_token(store, SYSTEM, "agent", "subscriber").secret
    api = Api(url, token)

    # The kernel spreads connections over the two processes; keep one subscriber on each.
    by_process: dict[int, Subscriber] = {}
    spare: list[Subscriber] = []
    for _ in range(16):
        subscriber = subscribe(url, token)
        pid = serving_pid(serve.pid, port, subscriber.local_port)
        assert pid is not None
        if pid in by_process:
            spare.append(subscriber)
        else:
            by_process[pid] = subscriber
        if len(by_process) == 2:
            break
    assert len(by_process) == 2, "every connection went to one API process"
    subscribers = list(by_process.values())
    # Each subscription starts in its own process at its own pace: once a probe reaches both,
    # both listen.
    probe = open_incident(api, title="probe")
    for subscriber in subscribers:
        for attempt in range(20):
            retitle(api, probe, f"probe {attempt}")
            try:
                subscriber.next_about(probe["number"], timeout=1)
                break
            except TimeoutError:
                continue

    # A mutation answered by one of the API processes.
    opened = open_incident(api, title="Payments slow")
    for subscriber in subscribers:
        heard = subscriber.next_about(opened["number"])
        assert (heard["kind"], heard["incident"]["title"]) == ("CREATED", "Payments slow")

    # A worker's change: the timer fires in the worker process, which announces it.
    incident_id = record_id(opened["id"], "Incident")
    store.write(
        SYSTEM, lambda uow: timers.set_timer(uow, MARK_INCIDENT, "Incident", incident_id, uow.at)
    )
    for subscriber in subscribers:
        heard = subscriber.next_about(opened["number"], timeout=30)
        assert heard["kind"] == "CHANGED"
        assert heard["incident"]["title"] == "Payments slow (seen by a worker)"
    # A websocket message is a request: no longer than an HTTP body may be (1 MiB).
    too_long = open_connection(url, {"Authorization": f"Bearer {token}"})
    assert json.loads(too_long.recv(timeout=20))["type"] == "connection_ack"
    too_long.send(json.dumps({"id": "big", "type": "subscribe", "payload": {"query": "x" * 2**21}}))
    with pytest.raises(ConnectionClosed) as closed:
        too_long.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_each_api_process_holds_one_redis_subscription_however_many_subscribers(
    settings: Settings, api: Api, live: Callable[..., Subscriber]
) -> None:
    client = redis.Redis.from_url(settings.broker_url or "")
    before = int(client.execute_command("PUBSUB", "NUMPAT"))
    assert before >= 1
    subscribers = [live(api.token) for _ in range(5)]
    assert int(client.execute_command("PUBSUB", "NUMPAT")) == before
    opened = open_incident(api, title="Mail stuck")
    for subscriber in subscribers:
        assert subscriber.next()["incident"]["number"] == opened["number"]


def test_versions_announced_out_of_order_reach_a_subscriber_in_order(
    settings: Settings, api: Api, live: Callable[..., Subscriber]
) -> None:
    opened = open_incident(api, title="VPN drops")
    subscriber = live(api.token)
    later = retitle(api, opened, "VPN drops every hour")
    assert subscriber.next()["version"] == later["version"]

    # Another process committed the earlier version but announces it only now.
    late = {
        "id": record_id(opened["id"], "Incident"),
        "number": opened["number"],
        "kind": "changed",
        "version": later["version"] - 1,
        "state": "new",
        "priority": later["priority"],
        "team": None,
        "services": [],
        "at": "2026-01-01T00:00:00+00:00",
    }
    redis.Redis.from_url(settings.broker_url or "").publish(
        feed.channel(events.TOPIC), json.dumps(late)
    )
    latest = retitle(api, opened, "VPN drops every minute")

    assert subscriber.next()["version"] == latest["version"]
    subscriber.nothing_within(0.5)
