"""Outages and availability, through the API and as threshold evaluation records them inside
its unit of work, on the real Neo4j."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.access import SYSTEM
from core.errors import ValidationFailed
from core.events import OutageKind
from core.ids import record_id
from domain.availability import outages
from graphdb.write_path import Store, UnitOfWork
from tests.conftest import Api
from tests.test_import import run_import


def t(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def import_cis(
    api: Api, items: list[tuple[str, str]], rels: list[tuple[str, str, str, dict[str, Any]]]
) -> dict[str, str]:
    """CIs by key, as stored ids."""
    result = run_import(
        api,
        "test",
        [{"key": k, "ciClass": c, "name": k} for k, c in items],
        [{"sourceKey": s, "type": ty, "targetKey": d, "attributes": a} for s, ty, d, a in rels],
    )
    assert result["rejected"] == 0 and all(r["error"] is None for r in result["relationships"])
    return {i["key"]: record_id(i["ciId"], "CI") for i in result["items"]}


@pytest.fixture
def web(api: Api) -> dict[str, str]:
    return import_cis(api, [("web", "VirtualMachine")], [])


def _alert(uow: UnitOfWork, ci: str) -> str:
    alert: str = uow.create(
        "Alert", {"dedupKey": f"threshold:x:{ci}", "state": "triggered", "summary": "web down"}
    )["id"]
    uow.link("Alert", alert, "ABOUT", "CI", ci)
    return alert


def test_an_alert_records_one_outage_and_ends_it_in_the_callers_unit_of_work(
    store: Store, web: dict[str, str]
) -> None:
    ci = web["web"]
    alert = store.write(SYSTEM, lambda uow: _alert(uow, ci))

    def fire(uow: UnitOfWork) -> dict[str, Any]:
        return outages.open_outage_in(uow, ci, OutageKind.DOWN, t(2, 10), alert_id=alert)

    opened = store.write(SYSTEM, fire)
    assert opened["source"] == "alert" and opened["kind"] == "down"
    assert opened["number"].startswith("OUT") and "end" not in opened
    # The same samples evaluated again find the outage they recorded.
    assert store.write(SYSTEM, fire)["id"] == opened["id"]
    going = store.write(SYSTEM, lambda uow: outages.open_outage_of_alert(uow, alert))
    assert going is not None and going["id"] == opened["id"]
    linked = store.read(
        lambda tx: tx.run(
            "MATCH (c:CI)<-[:ABOUT]-(o:Outage)-[:RECORDED_FROM]->(a:Alert) "
            "RETURN c.id AS ci, a.id AS alert, count(o) AS n"
        ).data()
    )
    assert linked == [{"ci": ci, "alert": alert, "n": 1}]

    with pytest.raises(ValidationFailed) as refused:
        store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 9)))
    assert refused.value.field == "end" and refused.value.reason == "before_start"

    ended = store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 11)))
    assert outages.native(ended["end"]) == t(2, 11)
    # Ending it again at the same time changes nothing; at another time is refused.
    again = store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 11)))
    assert again["version"] == ended["version"]
    with pytest.raises(ValidationFailed) as moved:
        store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 12)))
    assert moved.value.reason == "already_ended"
    assert store.write(SYSTEM, lambda uow: outages.open_outage_of_alert(uow, alert)) is None

    # A later firing of the same alert is a new outage; a degraded one may overlap it.
    def later(uow: UnitOfWork) -> tuple[dict[str, Any], dict[str, Any]]:
        down = outages.open_outage_in(uow, ci, OutageKind.DOWN, t(3, 10), alert_id=alert)
        degraded = outages.open_outage_in(uow, ci, OutageKind.DEGRADED, t(3, 9), notes="slow")
        return down, degraded

    down, degraded = store.write(SYSTEM, later)
    assert down["id"] != opened["id"] and degraded["source"] == "manual"
    count = store.read(
        lambda tx: tx.run(
            "MATCH (:CI {id: $ci})<-[:ABOUT]-(o:Outage) RETURN count(o) AS n", ci=ci
        ).single(strict=True)["n"]
    )
    assert count == 3
