"""Thresholds: written by managers with the agreement's checks, evaluated over metric samples by
their own timestamps (pending, firing after the duration, resolved at the clear value), turning
crossings into alerts, incidents, notifications and outages; on the real graph, and once through
the real broker and an `itsm worker` process.

Evaluation runs on simulated timestamps: a sample's time is what counts, not when it arrives.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest

from core.access import SYSTEM
from core.events import Operator, ThresholdCondition
from core.ids import record_id
from domain.availability import INGEST_METRICS, MetricSample
from domain.availability.evaluation import Limit, Point, replay
from domain.events import policy as policies
from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import Api
from tests.notify_servers import SmtpServer, notification_env
from tests.processes import ItsmProcess, start_worker, wait_for
from tests.test_governing import Agreements, agree, shop  # noqa: F401 (a fixture)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

FIELDS = """id number name metric operator value forSeconds clearValue severity action
  outageKind ciClass enabled version sla { name } ola { name } cis { name }
  service { name } status { ci { name } state since lastValue lastSampleAt }"""


def write(api: Api, verb: str, given: dict[str, Any]) -> dict[str, Any]:
    query = (
        f"mutation($input: {verb.capitalize()}ThresholdInput!) {{ {verb}Threshold(input: $input) "
        f"{{ userErrors {{ code field message }} threshold {{ {FIELDS} }} }} }}"
    )
    payload: dict[str, Any] = api.ok(query, {"input": given})[f"{verb}Threshold"]
    return payload


def made(api: Api, **given: Any) -> dict[str, Any]:
    payload = write(api, "create", given)
    assert payload["userErrors"] == [], payload["userErrors"]
    threshold: dict[str, Any] = payload["threshold"]
    return threshold


def refused(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    assert payload["threshold"] is None, payload
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


@pytest.fixture
def estate(store: Store, shop: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """The shop under an active SLA with an OLA behind it, a draft SLA, and the DBAs' team."""
    built: dict[str, str] = {}

    def build(a: Agreements) -> None:
        built["sla"] = a.sla("Shop Gold", ["shop"], None)
        built["draft"] = a.sla("Shop Draft", ["shop"], None, state="draft")
        built["dbas"] = a.team("DBAs", [])
        built["ola"] = a.ola("Shop databases", built["sla"], built["dbas"])

    agree(store, shop, build)
    return {**shop, **built}


@pytest.fixture
def manager(api: Api, store: Store) -> Api:
    return api.as_role(store, "manager")


def cpu(estate: dict[str, str], **given: Any) -> dict[str, Any]:
    """A CPU threshold on the database, set by the SLA: above 90 for 60 s, clear at 70."""
    return {
        "name": "db cpu",
        "metric": "cpu",
        "operator": "GT",
        "value": 90,
        "forSeconds": 60,
        "clearValue": 70,
        "action": "RECORD",
        "sla": estate["sla"],
        "cis": [estate["db"]],
        **given,
    }


# -- writing thresholds --------------------------------------------------------------------


def test_a_manager_creates_a_threshold_and_the_ci_lists_it(
    manager: Api, estate: dict[str, str]
) -> None:
    threshold = made(manager, **cpu(estate))
    assert threshold["number"].startswith("THR")
    assert threshold["sla"] == {"name": "Shop Gold"} and threshold["ola"] is None
    assert threshold["cis"] == [{"name": "db"}]
    assert threshold["status"] == [
        {
            "ci": {"name": "db"},
            "state": "OK",
            "since": None,
            "lastValue": None,
            "lastSampleAt": None,
        }
    ]
    scoped = made(
        manager,
        **cpu(estate, name="vm cpu", cis=None, service=estate["shop"], ciClass="VirtualMachine"),
    )
    assert scoped["service"] == {"name": "shop"} and scoped["ciClass"] == "VirtualMachine"
    cis = manager.ok(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on CI { name thresholds { name } } } }",
        {"ids": [estate["db"], estate["vm3"], estate["runbook"]]},
    )["nodes"]
    # vm3 is a VirtualMachine the shop depends on (shop → app → db → vm3).
    assert cis == [
        {"name": "db", "thresholds": [{"name": "db cpu"}]},
        {"name": "vm3", "thresholds": [{"name": "vm cpu"}]},
        {"name": "runbook", "thresholds": []},
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sla": None}, [("ONE_AGREEMENT", ["input", "sla"])]),
        ({"ola": "ola"}, [("ONE_AGREEMENT", ["input", "ola"])]),
        ({"ciClass": "VirtualMachine"}, [("NEEDS_SERVICE", ["input", "ciClass"])]),
        (
            {"ciClass": "Spaceship", "service": "shop", "cis": None},
            [("UNKNOWN_CLASS", ["input", "ciClass"])],
        ),
        ({"cis": None}, [("WATCHES_NOTHING", ["input", "cis"])]),
        ({"service": "shop", "cis": None}, [("REQUIRED", ["input", "ciClass"])]),
        ({"clearValue": 95}, [("WRONG_SIDE", ["input", "clearValue"])]),
        (
            {"operator": "LT", "value": 10, "clearValue": 5},
            [("WRONG_SIDE", ["input", "clearValue"])],
        ),
        ({"forSeconds": -1}, [("NEGATIVE", ["input", "forSeconds"])]),
    ],
)
def test_a_threshold_that_breaks_a_rule_is_refused_naming_the_field(
    manager: Api, store: Store, estate: dict[str, str], change: dict[str, Any], expected: Any
) -> None:
    given = cpu(estate)
    for key, value in change.items():
        # None leaves the field out; a name of the estate stands for its id.
        if value is None:
            given.pop(key)
        else:
            given[key] = estate.get(value, value) if isinstance(value, str) else value
    assert refused(write(manager, "create", given)) == expected
    assert count_thresholds(store) == 0


def test_an_update_is_checked_as_a_whole_and_only_managers_write(
    api: Api, manager: Api, store: Store, estate: dict[str, str]
) -> None:
    threshold = made(manager, **cpu(estate))
    wrong = write(manager, "update", {"id": threshold["id"], "clearValue": 99})
    assert refused(wrong) == [("WRONG_SIDE", ["input", "clearValue"])]
    emptied = write(manager, "update", {"id": threshold["id"], "cis": []})
    assert refused(emptied) == [("WATCHES_NOTHING", ["input", "cis"])]
    both = write(
        manager, "update", {"id": threshold["id"], "sla": estate["sla"], "ola": estate["ola"]}
    )
    assert refused(both) == [("ONE_AGREEMENT", ["input", "ola"])]
    # An agreement given replaces the one that set it.
    moved = write(manager, "update", {"id": threshold["id"], "ola": estate["ola"]})
    assert moved["userErrors"] == [] and moved["threshold"]["ola"] == {"name": "Shop databases"}
    answer = api.post(
        "mutation($input: CreateThresholdInput!) { createThreshold(input: $input) "
        "{ threshold { id } } }",
        {"input": cpu(estate)},
    )
    assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert count_thresholds(store) == 1


def count_thresholds(store: Store) -> int:
    return int(
        store.read(lambda tx: tx.run("MATCH (t:Threshold) RETURN count(t) AS n").single()["n"])
    )


# -- evaluation, as a pure replay ----------------------------------------------------------

LIMIT = Limit(
    id="t",
    number="THR0000001",
    name="cpu",
    metric="cpu",
    operator=Operator.GT,
    value=90,
    clear_value=70,
    for_seconds=60,
    severity=Limit.of({"id": "x", "metric": "m", "operator": "gt", "value": 1}).severity,
    outage_kind=None,
)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(values: list[tuple[int, float]]) -> tuple[Point, list[tuple[str, int]]]:
    point, decided = replay(LIMIT, Point(), [(at(s), v) for s, v in values])
    return point, [(d.action.value, int((d.at - T0).total_seconds())) for d in decided]


def test_pending_fires_only_after_its_duration_and_a_dip_resets_it() -> None:
    point, decided = run([(0, 95), (30, 96), (59, 97)])
    assert point.condition is ThresholdCondition.PENDING and point.since == at(0)
    assert decided == []
    point, decided = run([(0, 95), (30, 96), (60, 97), (90, 98)])
    assert point.condition is ThresholdCondition.FIRING and point.since == at(60)
    assert decided == [("trigger", 60), ("trigger", 90)]
    # 85 is below the limit: the pending run ends, and a new one starts at 40.
    point, decided = run([(0, 95), (30, 85), (40, 95), (90, 95)])
    assert point.condition is ThresholdCondition.PENDING and point.since == at(40)
    assert decided == []


def test_a_firing_threshold_resolves_only_at_the_clear_value() -> None:
    point, decided = run([(0, 95), (60, 95), (70, 80), (80, 75), (90, 70), (100, 95)])
    # 80 and 75 are below the limit but above the clear value: still firing, nothing raised.
    assert decided == [("trigger", 60), ("resolve", 90)]
    assert point.condition is ThresholdCondition.PENDING and point.since == at(100)


# -- evaluation on the graph ---------------------------------------------------------------


def samples(ci: str, values: list[tuple[int, float]], metric: str = "cpu") -> list[MetricSample]:
    stored = record_id(ci, "CI")
    return [MetricSample(stored, metric, float(v), at(s), at(s)) for s, v in values]


def evaluate(store: Store, batch: list[MetricSample]) -> None:
    from domain.availability import process_samples

    store.write(SYSTEM, lambda uow: process_samples(uow, batch))


def status(api: Api, threshold: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(
        "query($id: ID!) { threshold(id: $id) { status { ci { name } state since lastValue "
        "lastSampleAt } } }",
        {"id": threshold["id"]},
    )["threshold"]["status"]
    return found


def graph_of(store: Store) -> Callable[[], Any]:
    """A snapshot of everything evaluation writes: states, events, alerts, outages."""

    def snapshot() -> Any:
        return store.read(
            lambda tx: sorted(
                str(sorted((k, str(v)) for k, v in r["p"].items() if k not in ("updatedAt",)))
                for r in tx.run(
                    "MATCH (n) WHERE n:ThresholdState OR n:Event OR n:Alert OR n:Outage "
                    "OR n:Incident OR n:Notification RETURN properties(n) AS p"
                )
            )
        )

    return snapshot


def alerts(store: Store) -> list[dict[str, Any]]:
    return store.read(
        lambda tx: [
            dict(r["a"])
            for r in tx.run(
                "MATCH (a:Alert) RETURN a {.dedupKey, .state, .count, .value} AS a "
                "ORDER BY a.firstSeenAt"
            )
        ]
    )


def trigger_times(store: Store) -> list[datetime]:
    return store.read(
        lambda tx: [
            r["at"].to_native()
            for r in tx.run("MATCH (e:Event {action: 'trigger'}) RETURN e.at AS at ORDER BY e.at")
        ]
    )


def test_samples_fire_and_resolve_an_alert_and_the_status_says_where_it_stands(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    threshold = made(manager, **cpu(estate))
    evaluate(store, samples(estate["db"], [(0, 95), (30, 96)]))
    assert status(manager, threshold) == [
        {
            "ci": {"name": "db"},
            "state": "PENDING",
            "since": at(0).isoformat(),
            "lastValue": 96.0,
            "lastSampleAt": at(30).isoformat(),
        }
    ]
    assert alerts(store) == []
    evaluate(store, samples(estate["db"], [(60, 97), (90, 80)]))
    assert status(manager, threshold)[0]["state"] == "FIRING"
    [alert] = alerts(store)
    assert alert["state"] == "triggered"
    assert alert["dedupKey"] == f"threshold:{record_id(threshold['id'], 'Threshold')}:" + record_id(
        estate["db"], "CI"
    )
    evaluate(store, samples(estate["db"], [(120, 70)]))
    assert status(manager, threshold)[0]["state"] == "OK"
    assert alerts(store)[0]["state"] == "resolved"


def test_the_same_samples_in_any_order_give_the_same_state_and_alerts(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    made(manager, **cpu(estate))
    values = [(0, 95), (20, 96), (40, 97), (60, 98), (80, 99), (100, 91), (120, 60), (140, 50)]
    results = []
    for order in range(3):
        shuffled = list(values)
        if order:
            random.Random(order).shuffle(shuffled)  # the first round is in time order
        for one in shuffled:
            evaluate(store, samples(estate["db"], [one]))
        if not order:
            assert trigger_times(store) == [at(60), at(80), at(100)]
        results.append(
            (
                [(a["dedupKey"], a["state"]) for a in alerts(store)],
                store.read(
                    lambda tx: tx.run(
                        "MATCH (s:ThresholdState) RETURN s.state AS state, s.since AS since"
                    ).single()
                ).values(),
            )
        )
        store.write(
            SYSTEM,
            lambda uow: uow.tx.run(
                "MATCH (n) WHERE n:ThresholdState OR n:Event OR n:Alert OR n:AlertKey "
                "OR n:Timer DETACH DELETE n"
            ).consume(),
        )
    assert [state for _, state in results[0][0]] == ["resolved"]
    assert results[1] == results[0] and results[2] == results[0]


def test_a_batch_processed_twice_changes_nothing_and_too_late_samples_are_ignored(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    threshold = made(manager, **cpu(estate, forSeconds=0))
    batch = samples(estate["db"], [(0, 95), (10, 60), (20, 95)])
    evaluate(store, batch)
    snapshot = graph_of(store)
    before = snapshot()
    evaluate(store, batch)
    assert snapshot() == before
    # The same (CI, metric, time) replaces the value kept: 20 s is now below the limit.
    evaluate(store, samples(estate["db"], [(20, 50)]))
    assert status(manager, threshold)[0]["state"] == "OK"
    assert [a["state"] for a in alerts(store)] == ["resolved", "resolved"]
    # Far beyond the window, then a sample older than the window's base: ignored.
    evaluate(store, samples(estate["db"], [(3600, 10), (7200, 11)]))
    later = snapshot()
    evaluate(store, samples(estate["db"], [(5, 99)]))
    assert snapshot() == later
    assert status(manager, threshold)[0]["lastSampleAt"] == at(7200).isoformat()


def test_a_class_scoped_threshold_watches_the_services_cis_of_its_class_only(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    made(
        manager,
        **cpu(estate, cis=None, service=estate["shop"], ciClass="VirtualMachine", forSeconds=0),
    )
    # vm3 is under the shop; the app is not a VirtualMachine; reports needs none of the VMs.
    evaluate(
        store,
        samples(estate["vm3"], [(0, 99)])
        + samples(estate["app"], [(0, 99)])
        + samples(estate["vm3"], [(0, 99)], metric="memory"),
    )
    assert [a["dedupKey"].rsplit(":", 1)[1] for a in alerts(store)] == [
        record_id(estate["vm3"], "CI")
    ]


def test_disabled_thresholds_and_thresholds_of_inactive_agreements_do_nothing(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    made(manager, **cpu(estate, forSeconds=0, enabled=False))
    made(manager, **cpu(estate, name="draft cpu", forSeconds=0, sla=estate["draft"]))
    evaluate(store, samples(estate["db"], [(0, 99), (10, 99)]))
    assert alerts(store) == []
    assert (
        store.read(lambda tx: tx.run("MATCH (s:ThresholdState) RETURN count(s) AS n").single()["n"])
        == 0
    )


def test_an_availability_threshold_opens_an_outage_from_the_run_start_and_ends_it(
    manager: Api, store: Store, estate: dict[str, str]
) -> None:
    made(
        manager,
        **cpu(
            estate,
            name="db up",
            metric="up",
            operator="LT",
            value=1,
            clearValue=1,
            forSeconds=30,
            outageKind="DOWN",
        ),
    )
    evaluate(store, samples(estate["db"], [(0, 1), (10, 0), (25, 0), (40, 0)], metric="up"))
    evaluate(store, samples(estate["db"], [(70, 1)], metric="up"))
    outages = store.read(
        lambda tx: [
            (r["start"].to_native(), r["end"].to_native() if r["end"] else None, r["kind"])
            for r in tx.run(
                "MATCH (o:Outage)-[:ABOUT]->(:CI {id: $ci}) RETURN o.start AS start, "
                "o.end AS end, o.kind AS kind",
                ci=record_id(estate["db"], "CI"),
            )
        ]
    )
    assert outages == [(at(10), at(70), "down")]
    seen = manager.ok(
        "query($ci: ID!) { ci(id: $ci) { outages { source alert { metric state ci { name } } } } }",
        {"ci": estate["db"]},
    )["ci"]["outages"]
    assert seen == [
        {
            "source": "ALERT",
            "alert": {"metric": "up", "state": "RESOLVED", "ci": {"name": "db"}},
        }
    ]


# -- the action, through the broker and a real worker --------------------------------------


def test_a_crossing_through_the_broker_notifies_by_mail_and_an_incident_threshold_opens_one(
    manager: Api,
    store: Store,
    estate: dict[str, str],
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
) -> None:
    person = manager.ok(
        'mutation { createPerson(input: {name: "Dee Bee", email: "dee@example.com"}) '
        "{ person { id } } }"
    )["createPerson"]["person"]["id"]
    # A root alert acts at once instead of after the correlation window.
    policies.set_policy(store, SYSTEM, {"correlationWindowSeconds": 0}, None, version=None)
    made(manager, **cpu(estate, forSeconds=0, action="NOTIFY", notifyPeople=[person]))
    made(manager, **cpu(estate, name="db cpu incident", forSeconds=0, action="INCIDENT"))
    worker = start_worker(itsm_processes, settings, env=notification_env(smtp_server))
    batch = [s.to_wire() for s in samples(estate["db"], [(0, 50), (10, 99)])]
    dramatiq.get_broker().get_actor(INGEST_METRICS).send(batch)
    # Generous: on a busy two-core machine the worker takes its time; it returns on arrival.
    wait_for(lambda: smtp_server.to("dee@example.com"), 180, (worker,), "the notification")
    incidents = wait_for(
        lambda: store.read(
            lambda tx: tx.run(
                "MATCH (:Alert)-[:RAISED]->(i:Incident)-[:AFFECTS]->(:CI {id: $ci}) "
                "RETURN count(i) AS n",
                ci=record_id(estate["db"], "CI"),
            ).single()["n"]
        ),
        180,
        (worker,),
        "the incident",
    )
    assert incidents == 1
