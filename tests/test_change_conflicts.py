"""Conflicts of a change's planned window: another change anywhere in the same dependency chain
(three hops away, the path named), a freeze window on a service above, and a maintenance window
inherited from a service; a normal change with conflicts is scheduled only with the override."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from core.access import SYSTEM
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_alerts import estate
from tests.test_changes import APPROVE, T0, create, step, window
from tests.test_workers import worker  # noqa: F401 (a fixture)

CONFLICTS = (
    "query($id: ID!) { change(id: $id) { conflictCount conflicts { kind otherNumber title ci "
    "path } } }"
)


def conflicts(api: Api, change: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(CONFLICTS, {"id": change["id"]})["change"]
    return found


def test_conflicts_along_a_chain_freeze_and_maintenance_windows(api: Api, store: Store) -> None:
    cis = estate(
        store,
        [
            ("shop", "Service"),
            ("app", "Application"),
            ("vm", "VirtualMachine"),
            ("host", "Server"),
            ("other", "Server"),
        ],
        [
            ("shop", "DEPENDS_ON", "app", {}),
            ("app", "RUNS_ON", "vm", {}),
            ("vm", "HOSTED_ON", "host", {}),
        ],
    )
    upgrade = create(api, title="App upgrade", cis=[cis["app"]], **window())
    firmware = create(api, title="Host firmware", cis=[cis["host"]], **window(1))
    # Not overlapping in time, and a CI outside the chain: no conflict.
    create(api, title="Later", cis=[cis["host"]], **window(10))
    create(api, title="Elsewhere", cis=[cis["other"]], **window())

    found = conflicts(api, firmware)
    assert found["conflictCount"] == 1
    assert found["conflicts"] == [
        {
            "kind": "change",
            "otherNumber": upgrade["number"],
            "title": "App upgrade",
            "ci": "host",
            "path": ["host", "vm", "app"],  # from this change's CI to the other's
        }
    ]
    # Seen from the other end, both ways.
    assert conflicts(api, upgrade)["conflicts"][0]["path"] == ["app", "vm", "host"]

    # A freeze on the service covers what it depends on; a maintenance window on it is listed.
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (s:CI {id: $shop}) "
            "CREATE (:FreezeWindow {id: 'f1', number: 'FRZ0000001', title: 'Year end', "
            "  start: $start, end: $end, isGlobal: false})-[:FREEZES]->(s) "
            "CREATE (:MaintenanceWindow {id: 'm1', number: 'MW0000001', title: 'Shop patching', "
            "  start: $start, end: $end})-[:SCHEDULED_FOR]->(s)",
            shop=cis["shop"],
            start=T0,
            end=T0 + timedelta(hours=4),
        ).consume(),
    )
    found = conflicts(api, firmware)
    kinds = {c["kind"]: c for c in found["conflicts"]}
    assert kinds["freeze"]["otherNumber"] == "FRZ0000001"
    assert kinds["freeze"]["path"] == ["host", "vm", "app", "shop"]
    assert kinds["maintenance"]["title"] == "Shop patching"
    assert kinds["maintenance"]["path"] == ["host", "vm", "app", "shop"]

    # Scheduling is refused while conflicts stand, and goes with the override.
    manager = api.as_role(store, "manager")
    firmware = step(api, firmware, "ASSESSMENT")["change"]
    firmware = step(api, firmware, "AUTHORISATION")["change"]
    for role in ("CHANGE_MANAGER", "CAB"):
        manager.ok(APPROVE, {"input": {"id": firmware["id"], "approvalRole": role}})
    refused = step(api, firmware, "SCHEDULED")
    assert refused["userErrors"][0]["code"] == "HAS_CONFLICTS"
    assert refused["userErrors"][0]["field"] == ["input", "changes", "overrideConflicts"]
    done = step(api, firmware, "SCHEDULED", overrideConflicts=True)["change"]
    assert done["state"] == "SCHEDULED" and done["conflictCount"] == 2


def test_relating_two_cis_recounts_the_conflicts_of_the_changes_on_them(
    api: Api,
    store: Store,
    worker: Any,  # noqa: F811 (the fixture)
) -> None:
    cis = estate(store, [("app", "Application"), ("db", "Database")])
    on_app = create(api, changeType="NORMAL", cis=[cis["app"]], **window())
    on_db = create(api, changeType="NORMAL", cis=[cis["db"]], **window(1))
    assert on_app["conflictCount"] == 0 and on_db["conflictCount"] == 0
    relate = (
        "mutation($input: RelateCIsInput!) { relateCis(input: $input) { userErrors { code } } }"
    )
    given = {"sourceId": cis["app"], "type": "DEPENDS_ON", "targetId": cis["db"]}
    assert api.ok(relate, {"input": given})["relateCis"]["userErrors"] == []
    # The CIs' save is enough: neither change is saved again, the worker recounts both.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = [conflicts(api, c)["conflictCount"] for c in (on_app, on_db)]
        if counts == [1, 1]:
            break
        time.sleep(0.25)
    assert counts == [1, 1]
    [found] = conflicts(api, on_app)["conflicts"]
    assert found["otherNumber"] == on_db["number"] and found["path"] == ["app", "db"]
