"""A small online shop, so that a fresh install shows linked records at once: its CIs, the
teams and people who support it, the customers it serves, its catalogue entries, the
agreements that govern it and the knowledge articles about it."""

from __future__ import annotations

from typing import Any

from core import service_level
from core.access import SYSTEM
from core.records import RecordType
from domain import cmdb, records
from domain.configuration import refresh_blast_radius_many
from domain.incidents.demo import load_demo_incidents
from domain.knowledge.demo import load_demo_articles
from domain.records import RecordSearch
from domain.releases.demo import load_demo_problem_cycle
from domain.service_level import agreements, catalogue, parties, terms
from domain.service_level.rules import Rules
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
        # In batches, as an import writes them: one statement per class and per relationship
        # type, where one per CI and per link made a fresh install wait seconds longer.
        keys = [key for key, *_ in CIS]
        rows = [
            cmdb.ci_properties(
                cmdb.NewCI(ci_class=cls, name=name, criticality=crit, attributes=attrs)
            )
            for _, cls, name, crit, attrs in CIS
        ]
        created = uow.create_many("CI", rows, extra_label_key="ciClass")
        ids = {key: row["id"] for key, row in zip(keys, created, strict=True)}
        ci_cypher.set_identities(
            uow.tx,
            [
                {"id": row["id"], "keys": cmdb.identity_keys(cmdb.ci_class(row["ciClass"]), row)}
                for row in created
            ],
        )
        by_type: dict[str, list[dict[str, Any]]] = {}
        for source, rel, target, *extra in LINKS:
            props = extra[0] if extra else {}
            by_type.setdefault(rel, []).append({"s": ids[source], "t": ids[target], "props": props})
        seen = {"source": "demo", "firstSeen": uow.at, "lastSeen": uow.at}
        for rel, links in by_type.items():
            uow.link_many("CI", rel, "CI", links, common=seen)
        uow.audit_many(
            [
                (
                    "relate",
                    "CI",
                    ids[source],
                    None,
                    {"type": rel, "targetId": ids[target], **seen, **(extra[0] if extra else {})},
                )
                for source, rel, target, *extra in LINKS
            ]
        )
        return True

    loaded = store.write(SYSTEM, work)
    if loaded:
        refresh_blast_radius_many(store, store.read(ci_cypher.all_ids))
    made = load_demo_service_levels(store)
    if made:
        store.write(SYSTEM, lambda uow: terms.demo_terms(uow, made))
    cis = _demo_cis(store)
    articles = load_demo_articles(store, cis)
    incidents = load_demo_incidents(store, cis)
    cycle = load_demo_problem_cycle(store, cis)
    return loaded or bool(made) or bool(articles) or bool(incidents) or cycle


# -- Service Level Management: who supports the shop, what is offered, what is agreed -----------

# (team, its e-mail, the services it supports, its members, the CIs it owns)
TEAMS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "Web Operations",
        "web-ops@example.com",
        ("shop", "search"),
        ("Ana Lima", "Ben Okafor"),
        ("storefront", "cart", "searchapp"),
    ),
    (
        "Payments Engineering",
        "payments@example.com",
        ("payments",),
        ("Chen Wei",),
        ("checkout", "paygw"),
    ),
    (
        "Database Team",
        "dba@example.com",
        (),
        ("Giulia Rossi",),
        ("ordersdb", "ordersdb2", "catalogdb"),
    ),
    (
        "Infrastructure",
        "infra@example.com",
        (),
        ("Dana Novak", "Emil Berg"),
        ("host1", "host2", "san"),
    ),
    ("Service Desk", "service-desk@example.com", (), ("Fatima Zahra",), ()),
    ("Duty Managers", "duty-managers@example.com", (), ("Hana Sato",), ()),
)

# (name, e-mail, description)
CUSTOMERS = (
    ("Retail Division", "retail@example.com", "Sells to consumers through the online shop."),
    ("Head Office", "head-office@example.com", "The company's own staff, as internal customer."),
)

# (service, entry name, offering version, status, offering, audience)
CATALOGUE = (
    (
        "shop",
        "Online Shop",
        "2026.11",
        "live",
        "Browse, search and buy products online, around the clock.",
        "Retail customers in every market we ship to.",
    ),
    (
        "payments",
        "Payments",
        "2026.10",
        "live",
        "Card, wallet and invoice payments for every order.",
        "The online shop and the stores' tills.",
    ),
    (
        "search",
        "Product Search",
        "2027.01",
        "pipeline",
        "Type-ahead product search with synonyms.",
        "Shop visitors and staff.",
    ),
)

# (name, services, customers, description)
SLAS = (
    (
        "Online Shop Gold",
        ("shop", "payments"),
        ("Retail Division",),
        "The shop and its payments, around the clock.",
    ),
    (
        "Product Search Silver",
        ("search",),
        ("Retail Division", "Head Office"),
        "Search in business hours.",
    ),
)

# (name, team, SLAs underpinned)
OLAS = (
    (
        "Web Operations for the shop",
        "Web Operations",
        ("Online Shop Gold", "Product Search Silver"),
    ),
    ("Payments Engineering for the shop", "Payments Engineering", ("Online Shop Gold",)),
    ("Database support for the shop", "Database Team", ("Online Shop Gold",)),
    ("Infrastructure support for the shop", "Infrastructure", ("Online Shop Gold",)),
)


def _demo_cis(store: Store) -> dict[str, str]:
    """The demo's CIs, by their key in CIS, as stored (found by their identity keys)."""
    first_keys = {}
    for key, cls, name, crit, attrs in CIS:
        props = cmdb.ci_properties(
            cmdb.NewCI(ci_class=cls, name=name, criticality=crit, attributes=attrs)
        )
        first_keys[key] = cmdb.identity_keys(cmdb.ci_class(cls), props)[0]
    found = store.read(lambda tx: ci_cypher.by_identity(tx, list(first_keys.values())))
    return {key: found[identity]["id"] for key, identity in first_keys.items()}


def _own(store: Store, cis: list[str], team: str) -> None:
    """The CIs a team owns (a CI's link, not one of the team's fields)."""

    def work(uow: UnitOfWork) -> None:
        for ci in cis:
            uow.link("CI", ci, "OWNED_BY", "Team", team)

    store.write(SYSTEM, work)


def _person_address(name: str) -> tuple[str, str]:
    handle = name.lower().replace(" ", ".")
    return f"{handle}@example.com", f"https://push.example.com/{handle}"


class _Named:
    """The demo's records of one type by name: found when there, created through the process's
    rules when not, so that loading again (or after an interrupted load) adds only what is
    missing."""

    def __init__(self, store: Store, record: RecordType, rules: Rules) -> None:
        self.store, self.record, self.rules = store, record, rules
        self.ids: dict[str, str] = {}
        self.created: list[str] = []

    def get(
        self,
        name: str,
        values: dict[str, Any],
        links: dict[str, list[str]] | None = None,
        *,
        then: str | None = None,
    ) -> str:
        found, _ = records.page(
            self.store, SYSTEM, self.record, RecordSearch(filters={"name": name}, limit=1)
        )
        if found:
            self.ids[name] = str(found[0][0]["id"])
            return self.ids[name]
        label = self.record.label

        def step(uow: UnitOfWork, row: dict[str, Any]) -> None:
            if then is not None:  # in the creating transaction: no draft left behind
                uow.transition(label, row["id"], then, expected_version=None)

        row = self.rules.create(
            self.store, SYSTEM, self.record, {"name": name, **values}, links, also=step
        )
        self.ids[name] = str(row["id"])
        self.created.append(name)
        return self.ids[name]


def load_demo_service_levels(store: Store) -> dict[str, str]:
    """The shop's parties, catalogue entries and agreements, written through Service Level
    Management's rules as any manager's would be. Returns the SLAs and OLAs it created, by name
    (empty when all were there), for their terms to be set."""
    ci = _demo_cis(store)
    customers = _Named(store, service_level.CUSTOMER, parties.CUSTOMER_RULES)
    for name, email, description in CUSTOMERS:
        customers.get(name, {"email": email, "description": description})
    teams = _Named(store, service_level.TEAM, parties.TEAM_RULES)
    people = _Named(store, service_level.PERSON, parties.PERSON_RULES)
    for team, email, supports, members, owns in TEAMS:
        teams.get(team, {"email": email}, {"services": [ci[k] for k in supports]})
        if team in teams.created:
            _own(store, [ci[k] for k in owns], teams.ids[team])
        for person in members:
            address, push = _person_address(person)
            people.get(person, {"email": address, "pushUrl": push}, {"teams": [teams.ids[team]]})
    entries = _Named(store, service_level.CATALOG_ENTRY, catalogue.CATALOGUE_RULES)
    for key, name, version, status, offering, audience in CATALOGUE:
        entries.get(
            name,
            {"offeringVersion": version, "offering": offering, "audience": audience},
            {"service": [ci[key]]},
            then="live" if status == "live" else None,
        )
    slas = _Named(store, service_level.SLA, agreements.SLA_RULES)
    for name, covered, agreed, description in SLAS:
        slas.get(
            name,
            {"description": description},
            {"services": [ci[k] for k in covered], "customers": [customers.ids[c] for c in agreed]},
            then="active",
        )
    olas = _Named(store, service_level.OLA, agreements.OLA_RULES)
    for name, team, underpinned in OLAS:
        olas.get(
            name,
            {},
            {"slas": [slas.ids[s] for s in underpinned], "team": [teams.ids[team]]},
            then="active",
        )
    return {n: slas.ids[n] for n in slas.created} | {n: olas.ids[n] for n in olas.created}
