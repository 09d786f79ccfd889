"""`itsm import FILE` (itsm/importer.py) against the real API: CSV and JSON, reruns, rejections."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from graphdb.write_path import Store
from itsm.background import free_port
from itsm.importer import read_items, run_import
from tests.conftest import ROOT, Api

CSV = """\ufeffciClass,name,lifecycle,criticality,owner,description,key,fqdn,os,serialNumber
Server,esx-01,live,high,infra,,s1,esx-01.dc1.example,ESXi 8.0,SN-0001
VirtualMachine,web-01,,,web team,Front end,v1,web-01.dc1.example,Debian 12,
Application,shop,live,critical,,,a1,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cis(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.read(lambda tx: list(tx.run("MATCH (n:CI) RETURN properties(n) AS n")))
    return {r["n"]["name"]: dict(r["n"]) for r in rows}


def edges(store: Store) -> set[tuple[str, str, str]]:
    rows = store.read(
        lambda tx: list(
            tx.run("MATCH (s:CI)-[r]->(t:CI) RETURN s.name AS s, type(r) AS type, t.name AS t")
        )
    )
    return {(r["s"], r["type"], r["t"]) for r in rows}


def importing(api: Api, store: Store, path: Path, **kw: Any) -> tuple[int, str]:
    out = io.StringIO()
    token = kw.pop("token", None) or api.as_role(store, "automation").token
    assert token is not None
    code = run_import(path, url=api.url, token=token, source="test-import", out=out, **kw)
    return code, out.getvalue()


def test_csv_columns_become_fields_and_attributes(tmp_path: Path) -> None:
    items, rels = read_items(write(tmp_path, "cis.csv", CSV))
    assert rels == []
    assert [{k: v for k, v in i.items() if k != "_line"} for i in items] == [
        {
            "ciClass": "Server",
            "name": "esx-01",
            "lifecycle": "live",
            "criticality": "high",
            "owner": "infra",
            "key": "s1",
            "attributes": {
                "fqdn": "esx-01.dc1.example",
                "os": "ESXi 8.0",
                "serialNumber": "SN-0001",
            },
        },
        {
            "ciClass": "VirtualMachine",
            "name": "web-01",
            "owner": "web team",
            "description": "Front end",
            "key": "v1",
            "attributes": {"fqdn": "web-01.dc1.example", "os": "Debian 12"},
        },
        {
            "ciClass": "Application",
            "name": "shop",
            "lifecycle": "live",
            "criticality": "critical",
            "key": "a1",
        },
    ]


def test_csv_import_creates_the_cis_and_a_second_run_changes_nothing(
    api: Api, store: Store, tmp_path: Path
) -> None:
    path = write(tmp_path, "cis.csv", CSV)

    code, out = importing(api, store, path, batch_size=2)

    assert code == 0, out
    assert "items:         3 created, 0 updated, 0 unchanged, 0 rejected" in out
    # Not a terminal: one progress line per batch.
    assert "2/3 items" in out and "3/3 items" in out
    found = cis(store)
    assert set(found) == {"esx-01", "web-01", "shop"}
    assert found["esx-01"]["ciClass"] == "Server"
    assert found["esx-01"]["attr_serialNumber"] == "SN-0001"
    assert found["esx-01"]["criticality"] == "high"
    assert found["web-01"]["owner"] == "web team"
    assert found["web-01"]["attr_os"] == "Debian 12"
    assert "attr_serialNumber" not in found["web-01"]  # empty cells are left out
    assert found["shop"]["criticality"] == "critical"

    code, out = importing(api, store, path, batch_size=2)

    assert code == 0, out
    assert "items:         0 created, 0 updated, 3 unchanged, 0 rejected" in out
    assert len(cis(store)) == 3


def test_json_relationships_are_created_also_across_batches(
    api: Api, store: Store, tmp_path: Path
) -> None:
    data = {
        "items": [
            {
                "key": "h",
                "ciClass": "Server",
                "name": "esx-9",
                "attributes": {"serialNumber": "S9"},
            },
            {"key": "v", "ciClass": "VirtualMachine", "name": "db-vm", "attributes": {"fqdn": "x"}},
            {"key": "d", "ciClass": "Database", "name": "orders", "attributes": {"port": 5432}},
            {"key": "a", "ciClass": "Application", "name": "checkout"},
            {"key": "s", "ciClass": "Service", "name": "web shop"},
        ],
        "relationships": [
            {"sourceKey": "v", "type": "HOSTED_ON", "targetKey": "h"},
            {
                "sourceKey": "d",
                "type": "RUNS_ON",
                "targetKey": "v",
                "attributes": {"redundancyGroup": "db", "minUp": 1},
            },
            {"sourceKey": "a", "type": "DEPENDS_ON", "targetKey": "d"},
            {"sourceKey": "s", "type": "DEPENDS_ON", "targetKey": "a"},
            {"sourceKey": "s", "type": "DEPENDS_ON", "targetKey": "h"},
        ],
    }
    path = write(tmp_path, "estate.json", json.dumps(data))

    code, out = importing(api, store, path, batch_size=2)

    assert code == 0, out
    assert "relationships: 5 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert edges(store) == {
        ("db-vm", "HOSTED_ON", "esx-9"),
        ("orders", "RUNS_ON", "db-vm"),
        ("checkout", "DEPENDS_ON", "orders"),
        ("web shop", "DEPENDS_ON", "checkout"),
        ("web shop", "DEPENDS_ON", "esx-9"),
    }
    attrs = store.read(
        lambda tx: tx.run(
            "MATCH (:CI {name: 'orders'})-[r:RUNS_ON]->() RETURN properties(r) AS r"
        ).single(strict=True)["r"]
    )
    assert (attrs["redundancyGroup"], attrs["minUp"]) == ("db", 1)

    code, out = importing(api, store, path, batch_size=10)

    assert code == 0, out
    assert "relationships: 0 created, 0 updated, 5 unchanged, 0 rejected" in out


def test_a_bad_row_is_rejected_with_its_reason_and_the_rest_imported(
    api: Api, store: Store, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "cis.csv",
        "ciClass,name,os\nServer,good-1,Linux\nToaster,kitchen-1,\nApplication,good-2,\n",
    )

    code, out = importing(api, store, path)

    assert code == 1, out
    assert "1 rejected" in out
    assert "line 3 (Toaster 'kitchen-1')" in out
    assert "unknown_class" in out and "unknown CI class 'Toaster'" in out
    assert set(cis(store)) == {"good-1", "good-2"}
    # An attribute the class does not declare is a rejection too (Application has no os).
    path = write(tmp_path, "more.csv", "ciClass,name,os\nApplication,good-3,Linux\n")
    code, out = importing(api, store, path)
    assert code == 1
    assert "attribute_not_allowed" in out


def test_a_relationship_to_a_rejected_item_is_reported(
    api: Api, store: Store, tmp_path: Path
) -> None:
    data = {
        "items": [
            {"key": "a", "ciClass": "Application", "name": "billing"},
            {"key": "b", "ciClass": "Nonsense", "name": "??"},
        ],
        "relationships": [
            {"sourceKey": "a", "type": "DEPENDS_ON", "targetKey": "b"},
            {"sourceKey": "a", "type": "DEPENDS_ON", "targetKey": "missing"},
        ],
    }
    code, out = importing(api, store, write(tmp_path, "x.json", json.dumps(data)), batch_size=1)

    assert code == 1, out
    assert "relationships: 0 created, 0 updated, 0 unchanged, 2 rejected" in out
    assert "rejected: 1 item(s), 2 relationship(s):" in out
    assert "relationships[0] (a -DEPENDS_ON-> b)" in out
    assert "relationships[1] (a -DEPENDS_ON-> missing)" in out
    assert "no item with key 'missing'" in out


def test_dry_run_writes_nothing(api: Api, store: Store, tmp_path: Path) -> None:
    code, out = importing(api, store, write(tmp_path, "cis.csv", CSV), dry_run=True)

    assert code == 0, out
    assert "dry run, nothing written" in out
    assert "3 created" in out
    assert cis(store) == {}


def test_a_bad_token_is_exit_code_2_with_the_api_message(
    api: Api, store: Store, tmp_path: Path
) -> None:
    code, out = importing(api, store, write(tmp_path, "cis.csv", CSV), token="not-a-token")

    assert code == 2
    assert out.splitlines()[-1].startswith("error: ") and "unknown or revoked API token" in out
    assert "items:" not in out and "import finished" not in out  # no summary of zeros
    assert cis(store) == {}


def test_an_unreachable_api_is_one_error_and_exit_code_2(tmp_path: Path) -> None:
    out = io.StringIO()
    url = f"http://127.0.0.1:{free_port()}"

    code = run_import(write(tmp_path, "cis.csv", CSV), url=url, token="t", source="s", out=out)

    assert code == 2
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach {url}/graphql"), lines


def test_an_unreadable_file_is_exit_code_2(api: Api, store: Store, tmp_path: Path) -> None:
    code, out = importing(api, store, write(tmp_path, "cis.json", "{not json"))
    assert code == 2
    assert "not valid JSON" in out


def test_a_csv_of_relationships_joins_the_cis_by_key_or_id(
    api: Api, store: Store, tmp_path: Path
) -> None:
    code, out = importing(
        api, store, write(tmp_path, "first.csv", "ciClass,name,key\nServer,esx-1,h\n")
    )
    assert code == 0, out
    host_id = api.ok('{ cis(filter: {search: "esx-1"}) { edges { node { id } } } }')["cis"][
        "edges"
    ][0]["node"]["id"]
    items = write(
        tmp_path,
        "cis.csv",
        "ciClass,name,key\nVirtualMachine,vm-1,v1\nVirtualMachine,vm-2,v2\nApplication,shop,a\n",
    )
    rels = write(
        tmp_path,
        "rels.csv",
        "type,source,target,targetId,redundancyGroup,minUp\n"
        "RUNS_ON,a,v1,,web,1\n"
        "RUNS_ON,a,v2,,web,1\n"
        f"HOSTED_ON,v1,,{host_id},,\n"
        "HOSTED_ON,v2,nowhere,,,\n"
        "TELEPORTS_TO,a,v1,,,\n",
    )

    code, out = importing(api, store, items, relationships=rels, batch_size=2)

    assert code == 1, out
    assert "relationships: 3 created, 0 updated, 0 unchanged, 2 rejected" in out
    assert "rejected: 0 item(s), 2 relationship(s):" in out
    assert "rels.csv line 5 (v2 -HOSTED_ON-> nowhere): unknown_key" in out
    assert "rels.csv line 6 (a -TELEPORTS_TO-> v1)" in out
    assert edges(store) == {
        ("shop", "RUNS_ON", "vm-1"),
        ("shop", "RUNS_ON", "vm-2"),
        ("vm-1", "HOSTED_ON", "esx-1"),
    }
    groups = store.read(
        lambda tx: [
            (r["g"], r["m"])
            for r in tx.run("MATCH ()-[r:RUNS_ON]->() RETURN r.redundancyGroup AS g, r.minUp AS m")
        ]
    )
    assert groups == [("web", 1), ("web", 1)]  # minUp arrives as the number the CMDB wants


def test_semicolons_tabs_and_other_encodings(api: Api, store: Store, tmp_path: Path) -> None:
    semicolons = tmp_path / "export.csv"
    semicolons.write_bytes(
        "ciClass;name;owner;os\nServer;köln-01;Jürgen Müller;Linux\n".encode("latin-1")
    )
    tabs = write(tmp_path, "tabs.csv", "\ufeffciClass\tname\tos\nServer\tbonn-01\tLinux\n")

    code, out = importing(api, store, semicolons)
    assert code == 2
    assert "is not utf-8-sig text" in out and "--encoding latin-1" in out

    code, out = importing(api, store, semicolons, delimiter=",", encoding="latin-1")
    assert code == 2
    assert "try --delimiter ';'" in out

    code, out = importing(api, store, semicolons, encoding="latin-1")
    assert code == 0, out
    code, out = importing(api, store, tabs)
    assert code == 0, out
    found = cis(store)
    assert found["köln-01"]["owner"] == "Jürgen Müller"
    assert found["köln-01"]["attr_os"] == found["bonn-01"]["attr_os"] == "Linux"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_is_one_bar(api: Api, store: Store, tmp_path: Path) -> None:
    out = Terminal()
    token = api.as_role(store, "automation").token
    assert token is not None

    code = run_import(
        write(tmp_path, "cis.csv", CSV), url=api.url, token=token, source="t", out=out, batch_size=1
    )

    assert code == 0, out.getvalue()
    bar, _, summary = out.getvalue().partition("import finished:")
    assert "\r" in bar and "\n" not in bar.rstrip("\n")  # redrawn in place, one line
    assert "3/3 items" in bar.rsplit("\r", 1)[-1]
    assert "3 created" in summary


def test_the_command_documents_the_formats_and_keeps_http_logs_out_of_the_progress(
    api: Api, store: Store, tmp_path: Path
) -> None:
    def itsm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "itsm.cli", "import", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    shown = itsm("--help").stdout
    for word in ("ciClass", "sourceId", "--relationships", '"items"', "--delimiter", "latin-1"):
        assert word in shown, word

    token = api.as_role(store, "automation").token
    assert token is not None
    done = itsm(
        str(write(tmp_path, "cis.csv", CSV)),
        "--url",
        api.url,
        "--batch-size",
        "1",
        ITSM_TOKEN=token,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[:3] == ["1/3 items", "2/3 items", "3/3 items"], lines
    assert "HTTP Request" not in done.stderr
