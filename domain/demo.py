"""A small online shop, so that a fresh install shows linked records at once."""

from __future__ import annotations

from typing import Any

from core.access import SYSTEM
from domain import cmdb
from domain.configuration import refresh_blast_radius_many
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store, UnitOfWork

# (key, class, name, criticality, attributes)
CIS: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("shop", "Service", "Online Shop", "critical", {"tier": "gold", "serviceHours": "24x7"}),
    ("payments", "Service", "Payments", "critical", {"tier": "gold", "serviceHours": "24x7"}),
    ("search", "Service", "Product Search", "high", {"tier": "silver"}),
    ("storefront", "Application", "storefront-web", "high", {"language": "TypeScript"}),
    ("cart", "Application", "cart-api", "high", {"language": "Python"}),
    ("checkout", "Application", "checkout-api", "critical", {"language": "Java"}),
    ("paygw", "Application", "payment-gateway", "critical", {"language": "Go"}),
    ("searchapp", "Application", "search-api", "medium", {"language": "Python"}),
    ("ordersdb", "Database", "orders-db", "critical", {"engine": "PostgreSQL 16", "port": 5432}),
    ("ordersdb2", "Database", "orders-db-replica", "high", {"engine": "PostgreSQL 16"}),
    ("catalogdb", "Database", "catalog-db", "high", {"engine": "PostgreSQL 16"}),
    ("redis", "Database", "session-cache", "medium", {"engine": "Redis 7"}),
    (
        "vm-web1",
        "VirtualMachine",
        "web-01",
        "high",
        {"fqdn": "web-01.shop.example", "os": "Debian 12"},
    ),
    (
        "vm-web2",
        "VirtualMachine",
        "web-02",
        "high",
        {"fqdn": "web-02.shop.example", "os": "Debian 12"},
    ),
    (
        "vm-app1",
        "VirtualMachine",
        "app-01",
        "high",
        {"fqdn": "app-01.shop.example", "os": "Debian 12"},
    ),
    (
        "vm-db1",
        "VirtualMachine",
        "db-01",
        "critical",
        {"fqdn": "db-01.shop.example", "os": "Debian 12"},
    ),
    (
        "vm-db2",
        "VirtualMachine",
        "db-02",
        "high",
        {"fqdn": "db-02.shop.example", "os": "Debian 12"},
    ),
    ("host1", "Server", "esx-01", "critical", {"serialNumber": "SN-ESX-0001", "cpu": 64}),
    ("host2", "Server", "esx-02", "critical", {"serialNumber": "SN-ESX-0002", "cpu": 64}),
    ("san", "Storage", "san-01", "critical", {"serialNumber": "SN-SAN-0001", "capacityTb": 120}),
    (
        "lb",
        "NetworkDevice",
        "lb-01",
        "critical",
        {"serialNumber": "SN-LB-0001", "role": "load balancer"},
    ),
    ("core", "NetworkDevice", "core-switch-01", "critical", {"serialNumber": "SN-SW-0001"}),
    ("runbook", "Document", "Checkout runbook", "low", {"kind": "runbook"}),
    # The service desk's own floor: what most tickets are about.
    ("floor", "NetworkDevice", "access-switch-2f", "high", {"serialNumber": "SN-SW-0201"}),
    (
        "ws42",
        "Desktop",
        "WS-0042",
        "medium",
        {"serialNumber": "CZC1234XYZ", "assetTag": "A-0042", "assignedUser": "Fatima Zahra"},
    ),
    ("mon42", "Monitor", "MON-0042", "low", {"assetTag": "A-1042", "sizeInches": 27}),
    (
        "nb7",
        "Laptop",
        "NB-0007",
        "medium",
        {"serialNumber": "5CG2417Q", "assetTag": "A-0007", "assignedUser": "Ana Lima"},
    ),
    ("prn2f", "Printer", "PRN-2F-01", "medium", {"serialNumber": "VNB3K12345", "ip": "10.2.0.20"}),
)

# (source key, type, target key[, attributes])
LINKS: tuple[tuple[Any, ...], ...] = (
    ("shop", "DEPENDS_ON", "storefront"),
    ("shop", "DEPENDS_ON", "cart"),
    ("shop", "DEPENDS_ON", "checkout"),
    ("shop", "DEPENDS_ON", "search"),
    ("payments", "DEPENDS_ON", "paygw"),
    ("checkout", "DEPENDS_ON", "paygw"),
    ("search", "DEPENDS_ON", "searchapp"),
    ("checkout", "DEPENDS_ON", "ordersdb"),
    ("cart", "DEPENDS_ON", "redis"),
    ("storefront", "DEPENDS_ON", "catalogdb"),
    ("searchapp", "DEPENDS_ON", "catalogdb"),
    ("storefront", "RUNS_ON", "vm-web1", {"redundancyGroup": "web", "minUp": 1}),
    ("storefront", "RUNS_ON", "vm-web2", {"redundancyGroup": "web", "minUp": 1}),
    ("cart", "RUNS_ON", "vm-app1"),
    ("checkout", "RUNS_ON", "vm-app1"),
    ("paygw", "RUNS_ON", "vm-app1"),
    ("searchapp", "RUNS_ON", "vm-app1"),
    ("ordersdb", "RUNS_ON", "vm-db1"),
    ("ordersdb2", "RUNS_ON", "vm-db2"),
    ("catalogdb", "RUNS_ON", "vm-db1"),
    ("redis", "RUNS_ON", "vm-app1"),
    ("ordersdb2", "DEPENDS_ON", "ordersdb"),
    ("vm-web1", "HOSTED_ON", "host1"),
    ("vm-app1", "HOSTED_ON", "host1"),
    ("vm-db1", "HOSTED_ON", "host2"),
    ("vm-web2", "HOSTED_ON", "host2"),
    ("vm-db2", "HOSTED_ON", "host2"),
    ("vm-db1", "STORED_ON", "san"),
    ("vm-db2", "STORED_ON", "san"),
    ("host1", "CONNECTS_TO", "core"),
    ("host2", "CONNECTS_TO", "core"),
    ("san", "CONNECTS_TO", "core"),
    ("storefront", "DEPENDS_ON", "lb"),
    ("checkout", "DOCUMENTED_BY", "runbook"),
    ("floor", "CONNECTS_TO", "core"),
    ("ws42", "CONNECTS_TO", "floor"),
    ("prn2f", "CONNECTS_TO", "floor"),
    ("mon42", "ATTACHED_TO", "ws42"),
)


def load_demo_estate(store: Store) -> bool:
    """Load the shop once; returns False when it is already there."""

    def work(uow: UnitOfWork) -> bool:
        shop = cmdb.identity_keys(cmdb.ci_class("Service"), {"name": "Online Shop"})
        exists = ci_cypher.by_identity(uow.tx, shop)
        if exists:
            return False
        ids: dict[str, str] = {}
        identities = []
        for key, cls, name, crit, attrs in CIS:
            props = cmdb.ci_properties(
                cmdb.NewCI(ci_class=cls, name=name, criticality=crit, attributes=attrs)
            )
            ids[key] = uow.create("CI", props, extra_labels=(cls,))["id"]
            identities.append(
                {"id": ids[key], "keys": cmdb.identity_keys(cmdb.ci_class(cls), props)}
            )
        ci_cypher.set_identities(uow.tx, identities)
        for source, rel, target, *extra in LINKS:
            seen = {"source": "demo", "firstSeen": uow.at, "lastSeen": uow.at}
            uow.link(
                "CI", ids[source], rel, "CI", ids[target], {**seen, **(extra[0] if extra else {})}
            )

        people = {}
        teams = {}
        for team, members in (
            ("Web Platform", ("Ana Lima", "Ben Okafor")),
            ("Payments Engineering", ("Chen Wei",)),
            ("Infrastructure", ("Dana Novak", "Emil Berg")),
            ("Service Desk", ("Fatima Zahra",)),
        ):
            teams[team] = uow.create("Team", {"name": team})["id"]
            for person in members:
                email = person.lower().replace(" ", ".") + "@shop.example"
                people[person] = uow.create("Person", {"name": person, "email": email})["id"]
                uow.link("Person", people[person], "MEMBER_OF", "Team", teams[team])
        for key, team in (
            ("storefront", "Web Platform"),
            ("cart", "Web Platform"),
            ("checkout", "Payments Engineering"),
            ("paygw", "Payments Engineering"),
            ("host1", "Infrastructure"),
            ("host2", "Infrastructure"),
            ("san", "Infrastructure"),
        ):
            uow.link("CI", ids[key], "OWNED_BY", "Team", teams[team])

        customer = uow.create("Customer", {"name": "Retail Division"})["id"]
        entry = uow.create(
            "CatalogEntry",
            {
                "name": "Online Shop",
                "version": "2026.11",
                "status": "live",
                "description": "Browse, search and buy products online.",
            },
        )["id"]
        uow.link("CatalogEntry", entry, "DESCRIBES", "CI", ids["shop"])
        sla = uow.create(
            "SLA",
            {
                "name": "Online Shop Gold",
                "availabilityTarget": 99.9,
                "warningPercent": 75,
                "calendar": "24x7",
                "responseMinutes": [15, 30, 120, 480],
                "resolutionMinutes": [240, 480, 1440, 4320],
            },
        )["id"]
        uow.link("SLA", sla, "COVERS", "CI", ids["shop"])
        uow.link("SLA", sla, "COVERS", "CI", ids["payments"])
        uow.link("SLA", sla, "AGREED_WITH", "Customer", customer)
        ola = uow.create(
            "OLA",
            {"name": "Infrastructure support for shop", "responseMinutes": [10, 20, 60, 240]},
        )["id"]
        uow.link("OLA", ola, "SUPPORTS", "SLA", sla)
        uow.link("OLA", ola, "PROVIDED_BY", "Team", teams["Infrastructure"])
        uow.link(
            "SLA", sla, "ESCALATES_TO", "Team", teams["Service Desk"], {"level": 1, "after": 0}
        )
        uow.link(
            "SLA", sla, "ESCALATES_TO", "Person", people["Chen Wei"], {"level": 2, "after": 60}
        )
        return True

    loaded = store.write(SYSTEM, work)
    if loaded:
        refresh_blast_radius_many(store, store.read(ci_cypher.all_ids))
    return loaded
