"""Reconciled bulk import through `importCis`: identification, upsert, sources, dry run, rejection."""

from __future__ import annotations

from typing import Any

from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_api import count_nodes

IMPORT = """mutation($input: ImportCIsInput!) {
  importCis(input: $input) {
    dryRun created updated unchanged rejected
    items { index key ciId status changedAttributes skippedAttributes error { field reason message } }
    relationships { index status error { field reason message } }
  }
}"""


def run_import(
    api: Api,
    source: str,
    items: list[dict[str, Any]],
    rels: list[dict[str, Any]] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(
        IMPORT,
        {
            "input": {
                "source": source,
                "items": items,
                "relationships": rels or [],
                "dryRun": dry_run,
            }
        },
    )["importCis"]
    return result


def estate(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = [
        {
            "key": f"vm{i}",
            "ciClass": "VirtualMachine",
            "name": f"vm-{i:05d}",
            "attributes": {"fqdn": f"vm-{i:05d}.dc1.example", "os": "Debian 12", "cpu": 4},
        }
        for i in range(n)
    ]
    items += [
        {
            "key": f"h{i}",
            "ciClass": "Server",
            "name": f"esx-{i:04d}",
            "attributes": {"serialNumber": f"SN{i:06d}"},
        }
        for i in range(max(1, n // 20))
    ]
    rels = [
        {"sourceKey": f"vm{i}", "type": "HOSTED_ON", "targetKey": f"h{i % max(1, n // 20)}"}
        for i in range(n)
    ]
    return items, rels


def test_ten_thousand_items_in_one_call_then_an_identical_import_changes_nothing(
    api: Api, store: Store
) -> None:
    items, rels = estate(10_000)
    first = run_import(api, "discovery", items, rels)
    assert (first["created"], first["updated"], first["unchanged"], first["rejected"]) == (
        10_500,
        0,
        0,
        0,
    )
    assert {r["status"] for r in first["relationships"]} == {"CREATED"}
    assert count_nodes(store, "CI") == 10_500
    audits = count_nodes(store, "AuditEntry")

    second = run_import(api, "discovery", items, rels)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 10_500)
    assert {r["status"] for r in second["relationships"]} == {"UNCHANGED"}
    assert count_nodes(store, "CI") == 10_500
    assert count_nodes(store, "AuditEntry") == audits
    versions = store.graph.read(
        lambda tx: tx.run("MATCH (n:CI) RETURN collect(DISTINCT n.version) AS v").single(
            strict=True
        )["v"]
    )
    assert versions == [1]


def test_a_changed_attribute_updates_only_that_attribute_with_its_audit_entry(
    api: Api, store: Store
) -> None:
    items, _ = estate(20)
    run_import(api, "discovery", items)
    items[3] = {**items[3], "attributes": {**items[3]["attributes"], "os": "Debian 13"}}
    result = run_import(api, "discovery", items)
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 20)
    changed = result["items"][3]
    assert changed["status"] == "UPDATED" and changed["changedAttributes"] == ["os"]
    history = api.ok(
        "query($id: ID!) { ci(id: $id) { version attributes history { action before after } } }",
        {"id": changed["ciId"]},
    )["ci"]
    assert history["version"] == 2
    assert history["attributes"]["os"] == "Debian 13" and history["attributes"]["cpu"] == 4
    assert history["history"][0]["before"] == {"attributes.os": "Debian 12"}
    assert history["history"][0]["after"] == {
        "attributes.os": "Debian 13",
        "source of os": "discovery",
    }


def test_identification_by_serial_number_survives_a_rename(api: Api) -> None:
    first = run_import(
        api,
        "asset-register",
        [{"ciClass": "Server", "name": "esx-01", "attributes": {"serialNumber": "SN-A"}}],
    )
    renamed = run_import(
        api,
        "asset-register",
        [{"ciClass": "Server", "name": "esx-01-new", "attributes": {"serialNumber": "SN-A"}}],
    )
    assert renamed["items"][0]["status"] == "UPDATED"
    assert renamed["items"][0]["ciId"] == first["items"][0]["ciId"]
    assert renamed["items"][0]["changedAttributes"] == ["name"]


def test_authoritative_source_is_not_overwritten_by_another(api: Api) -> None:
    run_import(
        api,
        "asset-register",
        [
            {
                "ciClass": "Server",
                "name": "esx-01",
                "attributes": {"serialNumber": "SN-A", "os": "ESXi 8"},
            }
        ],
    )
    # Discovery sees the server by FQDN-less name; it may change the OS but not the serial.
    api_result = run_import(
        api,
        "discovery",
        [
            {
                "ciClass": "Server",
                "name": "esx-01",
                "attributes": {"serialNumber": "SN-A", "os": "ESXi 8.0u3"},
            },
        ],
    )
    item = api_result["items"][0]
    assert item["status"] == "UPDATED" and item["changedAttributes"] == ["os"]
    other = run_import(
        api,
        "discovery",
        [
            {"ciClass": "Server", "name": "esx-01", "attributes": {"serialNumber": "SN-B"}},
        ],
    )
    # Identified by name (SN-B matches nothing, the name rule matches esx-01); serial is owned.
    assert other["items"][0]["status"] == "UNCHANGED"
    assert other["items"][0]["skippedAttributes"] == ["serialNumber"]
    serial = api.ok("query($id: ID!) { ci(id: $id) { attributes } }", {"id": item["ciId"]})["ci"][
        "attributes"
    ]["serialNumber"]
    assert serial == "SN-A"


def test_dry_run_reports_without_writing(api: Api, store: Store) -> None:
    items, rels = estate(40)
    audits = count_nodes(store, "AuditEntry")
    preview = run_import(api, "discovery", items, rels, dry_run=True)
    assert preview["dryRun"] is True and preview["created"] == 42
    assert {r["status"] for r in preview["relationships"]} == {"CREATED"}
    assert count_nodes(store, "CI") == 0 and count_nodes(store, "AuditEntry") == audits
    assert count_nodes(store, "CIIdentity") == 0

    run_import(api, "discovery", items, rels)
    items[0] = {**items[0], "attributes": {**items[0]["attributes"], "cpu": 8}}
    preview = run_import(api, "discovery", items, dry_run=True)
    assert (preview["created"], preview["updated"], preview["unchanged"]) == (0, 1, 41)
    cpu = store.graph.read(
        lambda tx: tx.run("MATCH (n:CI {name: 'vm-00000'}) RETURN n.attr_cpu AS c").single(
            strict=True
        )["c"]
    )
    assert cpu == 4


def test_rejected_items_are_reported_and_never_half_written(api: Api, store: Store) -> None:
    items = [
        {"key": "ok", "ciClass": "Database", "name": "orders-db"},
        {"key": "bad-class", "ciClass": "Toaster", "name": "x"},
        {"key": "bad-attr", "ciClass": "Database", "name": "y", "attributes": {"colour": "red"}},
        {"key": "dup", "ciClass": "Database", "name": "orders-db"},
        {"key": "app", "ciClass": "Application", "name": "checkout"},
    ]
    rels = [
        {"sourceKey": "app", "type": "DEPENDS_ON", "targetKey": "ok"},
        {"sourceKey": "app", "type": "DEPENDS_ON", "targetKey": "bad-class"},
        {"sourceKey": "app", "type": "HOSTED_ON", "targetKey": "ok"},
        {"sourceKey": "app", "type": "DEPENDS_ON", "targetKey": "app"},
    ]
    result = run_import(api, "cmdb-sync", items, rels)
    assert [i["status"] for i in result["items"]] == [
        "CREATED",
        "REJECTED",
        "REJECTED",
        "REJECTED",
        "CREATED",
    ]
    reasons = [i["error"]["reason"] if i["error"] else None for i in result["items"]]
    assert reasons == [None, "unknown_class", "attribute_not_allowed", "duplicate_in_import", None]
    assert result["items"][2]["error"]["field"] == "items[2].attributes.colour"
    rel_reasons = [r["error"]["reason"] if r["error"] else None for r in result["relationships"]]
    assert rel_reasons == [None, "unknown_key", "relationship_not_allowed", "self_loop"]
    assert count_nodes(store, "CI") == 2
    names = store.graph.read(
        lambda tx: [r["n"] for r in tx.run("MATCH (n:CI) RETURN n.name AS n ORDER BY n")]
    )
    assert names == ["checkout", "orders-db"]


def test_relationships_carry_provenance_and_last_seen_moves(api: Api, store: Store) -> None:
    items = [
        {"key": "a", "ciClass": "Application", "name": "checkout"},
        {"key": "d", "ciClass": "Database", "name": "orders-db"},
    ]
    rels = [{"sourceKey": "a", "type": "DEPENDS_ON", "targetKey": "d", "attributes": {"weight": 2}}]
    run_import(api, "discovery", items, rels)

    def provenance() -> dict[str, Any]:
        return store.graph.read(
            lambda tx: dict(
                tx.run("MATCH (:CI)-[r:DEPENDS_ON]->(:CI) RETURN properties(r) AS r").single(
                    strict=True
                )["r"]
            )
        )

    first = provenance()
    assert first["source"] == "discovery" and first["weight"] == 2
    assert first["firstSeen"] == first["lastSeen"]
    rels[0]["attributes"] = {"weight": 5}
    again = run_import(api, "discovery", items, rels)
    assert again["relationships"][0]["status"] == "UPDATED"
    second = provenance()
    assert second["weight"] == 5 and second["firstSeen"] == first["firstSeen"]
    assert second["lastSeen"] > first["lastSeen"]


CI_FIELDS = "query($id: ID!) { ci(id: $id) { owner description version attributes } }"


def test_an_import_keeps_what_it_leaves_out_even_from_another_source(api: Api) -> None:
    first = run_import(
        api,
        "asset-register",
        [
            {
                "ciClass": "Server",
                "name": "esx-01",
                "owner": "platform team",
                "description": "rack A3, bought 2024",
                "attributes": {"serialNumber": "SN-A", "os": "ESXi 8", "rack": "A3"},
            }
        ],
    )
    ci_id = first["items"][0]["ciId"]
    for source in ("asset-register", "discovery"):
        again = run_import(
            api,
            source,
            [{"ciClass": "Server", "name": "esx-01", "attributes": {"os": None, "cpu": 32}}],
        )
        assert again["items"][0]["status"] in ("UPDATED", "UNCHANGED"), again
        ci = api.ok(CI_FIELDS, {"id": ci_id})["ci"]
        assert ci["owner"] == "platform team"
        assert ci["description"] == "rack A3, bought 2024"
        assert ci["attributes"] == {"serialNumber": "SN-A", "os": "ESXi 8", "rack": "A3", "cpu": 32}
    assert again["items"][0]["status"] == "UNCHANGED"


def test_clearing_is_explicit_audited_and_refused_for_what_another_source_owns(
    api: Api, store: Store
) -> None:
    item = {
        "ciClass": "Server",
        "name": "esx-01",
        "owner": "platform team",
        "attributes": {"serialNumber": "SN-A", "os": "ESXi 8"},
    }
    ci_id = run_import(api, "asset-register", [item])["items"][0]["ciId"]
    clear = {"ciClass": "Server", "name": "esx-01", "clear": ["owner", "os"]}
    preview = run_import(api, "discovery", [clear], dry_run=True)
    assert preview["items"][0]["status"] == "UPDATED"
    assert preview["items"][0]["changedAttributes"] == ["os", "owner"]
    assert api.ok(CI_FIELDS, {"id": ci_id})["ci"]["owner"] == "platform team"

    cleared = run_import(api, "discovery", [clear])
    assert cleared["items"][0] == {**preview["items"][0]}
    ci = api.ok(
        "query($id: ID!) { ci(id: $id) { owner attributes history { action before after } } }",
        {"id": ci_id},
    )["ci"]
    assert ci["owner"] is None and ci["attributes"] == {"serialNumber": "SN-A"}
    assert ci["history"][0]["action"] == "update"
    assert ci["history"][0]["before"]["owner"] == "platform team"
    assert ci["history"][0]["after"]["owner"] is None
    assert ci["history"][0]["after"]["attributes.os"] is None
    assert ci["history"][0]["after"]["source of os"] == "discovery"

    owned = run_import(
        api, "discovery", [{"ciClass": "Server", "name": "esx-01", "clear": ["serialNumber"]}]
    )
    assert owned["items"][0]["status"] == "REJECTED"
    assert owned["items"][0]["error"]["field"] == "items[0].clear[0]"
    assert owned["items"][0]["error"]["reason"] == "owned_by_another_source"
    by_owner = run_import(
        api, "asset-register", [{"ciClass": "Server", "name": "esx-01", "clear": ["serialNumber"]}]
    )
    assert by_owner["items"][0]["changedAttributes"] == ["serialNumber"]

    bad = run_import(
        api,
        "discovery",
        [
            {"ciClass": "Server", "name": "esx-01", "clear": ["name"]},
            {"ciClass": "Server", "name": "esx-02", "owner": "x", "clear": ["owner"]},
        ],
    )
    assert [(i["status"], i["error"]["field"], i["error"]["reason"]) for i in bad["items"]] == [
        ("REJECTED", "items[0].clear[0]", "not_clearable"),
        ("REJECTED", "items[1].clear[0]", "sent_and_cleared"),
    ]
    assert count_nodes(store, "CI") == 1
