"""A deterministic, layered estate for the benchmarks.

The estate is built in pods (about one per 1,000 CIs). A pod is a failure domain: two spine
switches, two SAN switches and a top-of-rack pair per rack, servers in racks, storage arrays,
VMs on the servers and containers on the Kubernetes worker VMs among them. Across pods sit the
software layers: databases and applications running on redundant VM pairs in two different pods
(`redundancyGroup` "db-<n>" / "app-<n>", `minUp` 1), container applications on replica sets in
one pod, services depending on applications, and documents describing them. The first arrays of
pods 2k and 2k+1 replicate synchronously (SYNCS_WITH).

`generate(size, seed)` returns exactly `size` CIs and roughly 3.7 relationships per CI, in the
shapes of the `importCis` input: items {key, ciClass, name, lifecycle, criticality, attributes} and
relationships {sourceKey, type, targetKey, attributes}. The same size and seed give the same
estate, byte for byte.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain import cmdb

# Share of all CIs per class; documents take what is left so that the total is exact.
SHARES = {
    "NetworkDevice": 0.03,
    "Storage": 0.005,
    "Server": 0.10,
    "VirtualMachine": 0.36,
    "Container": 0.28,
    "Database": 0.035,
    "Application": 0.08,
    "Service": 0.02,
}
CIS_PER_POD = 1000
WORKER_SHARE = 0.2  # VMs that are Kubernetes workers and host the containers
MIN_SIZE = 200

_KEY_PREFIX = {
    "Service": "svc",
    "Application": "app",
    "Database": "db",
    "Server": "srv",
    "VirtualMachine": "vm",
    "Container": "ctr",
    "NetworkDevice": "net",
    "Storage": "sto",
    "Document": "doc",
}


@dataclass
class Estate:
    size: int
    seed: int
    items: list[dict[str, Any]]
    relationships: list[dict[str, Any]]

    def class_counts(self) -> Counter[str]:
        return Counter(i["ciClass"] for i in self.items)

    def type_counts(self) -> Counter[str]:
        return Counter(r["type"] for r in self.relationships)

    def describe(self) -> str:
        classes = ", ".join(f"{c} {n}" for c, n in sorted(self.class_counts().items()))
        types = ", ".join(f"{t} {n}" for t, n in sorted(self.type_counts().items()))
        return (
            f"{len(self.items)} CIs ({classes})\n"
            f"{len(self.relationships)} relationships "
            f"({len(self.relationships) / len(self.items):.2f} per CI: {types})"
        )


def _split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as possible, the larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _blocks(seq: Sequence[str], parts: int) -> list[list[str]]:
    out, start = [], 0
    for n in _split(len(seq), parts):
        out.append(list(seq[start : start + n]))
        start += n
    return out


class _Builder:
    def __init__(self, size: int, seed: int) -> None:
        if size < MIN_SIZE:
            raise ValueError(f"an estate has at least {MIN_SIZE} CIs")
        self.size = size
        self.seed = seed
        self.rng = random.Random(seed)
        self.items: list[dict[str, Any]] = []
        self.rels: list[dict[str, Any]] = []
        self.numbers: Counter[str] = Counter()
        self.pods = max(1, size // CIS_PER_POD)
        counts = {c: int(size * share) for c, share in SHARES.items()}
        counts["NetworkDevice"] = max(counts["NetworkDevice"], 6 * self.pods)
        counts["Storage"] = max(counts["Storage"], 2 * self.pods)
        counts["Server"] = max(counts["Server"], 2 * self.pods)
        counts["VirtualMachine"] = max(counts["VirtualMachine"], 5 * self.pods)
        counts["Document"] = size - sum(counts.values())
        if counts["Document"] < 1:
            raise ValueError(f"{size} CIs are too few for {self.pods} pod(s)")
        self.counts = counts

    # -- primitives ----------------------------------------------------------------------------

    def _lifecycle(self) -> str:
        roll = self.rng.random()
        return "planned" if roll < 0.03 else "maintenance" if roll < 0.08 else "live"

    def _criticality(self, weights: tuple[int, int, int, int]) -> str:
        return self.rng.choices(("low", "medium", "high", "critical"), weights)[0]

    def add(
        self,
        ci_class: str,
        attributes: dict[str, Any],
        *,
        name: str | None = None,
        criticality: tuple[int, int, int, int] = (1, 4, 3, 1),
    ) -> str:
        n = self.numbers[ci_class]
        self.numbers[ci_class] += 1
        key = f"{_KEY_PREFIX[ci_class]}{n}"
        self.items.append(
            {
                "key": key,
                "ciClass": ci_class,
                "name": name or key,
                "lifecycle": self._lifecycle(),
                "criticality": self._criticality(criticality),
                "attributes": attributes,
            }
        )
        return key

    def rel(self, source: str, type_: str, target: str, **attributes: Any) -> None:
        self.rels.append(
            {"sourceKey": source, "type": type_, "targetKey": target, "attributes": attributes}
        )

    def pair(self, source: str, type_: str, targets: Sequence[str], group: str) -> None:
        for target in targets:
            self.rel(source, type_, target, redundancyGroup=group, minUp=1)

    def doc(self) -> str:
        return f"doc{self.rng.randrange(self.counts['Document'])}"

    def other_pod(self, pod: int) -> int:
        if self.pods == 1:
            return pod
        return (pod + 1 + self.rng.randrange(self.pods - 1)) % self.pods

    # -- the layers ----------------------------------------------------------------------------

    def build(self) -> Estate:
        pods = range(self.pods)
        nd = _split(self.counts["NetworkDevice"], self.pods)
        sto = _split(self.counts["Storage"], self.pods)
        srv = _split(self.counts["Server"], self.pods)
        vms = _split(self.counts["VirtualMachine"], self.pods)
        ctr = _split(self.counts["Container"], self.pods)
        container_apps = _split(self.counts["Application"] // 2, self.pods)
        # Per pod: the VMs free for databases and VM-based applications, and container blocks.
        self.free_vms: list[list[str]] = []
        self.plain_vms: list[list[str]] = []
        self.arrays: list[list[str]] = []
        blocks: list[tuple[int, list[str]]] = []
        for p in pods:
            made = self._pod(p, nd[p], sto[p], srv[p], vms[p], ctr[p], container_apps[p])
            blocks += [(p, b) for b in made if b]
        # Metro pairs: the first array of pod 2k replicates synchronously with that of pod 2k+1.
        for p in range(0, self.pods - 1, 2):
            self.rel(self.arrays[p][0], "SYNCS_WITH", self.arrays[p + 1][0], description="metro")
        databases = self._databases()
        self._applications(blocks, databases)
        self._services()
        self._documents()
        assert len(self.items) == self.size, (len(self.items), self.size)
        return Estate(self.size, self.seed, self.items, self.rels)

    def _pod(
        self, p: int, nd: int, sto: int, srv: int, vms: int, ctr: int, container_apps: int
    ) -> list[list[str]]:
        site = f"dc{1 + p % 3}/pod{p:03d}"
        env = "production" if p % 5 else "staging"
        vendor_net = self.rng.choice(("Arista", "Cisco", "Juniper"))

        def switch(role: str, model: str) -> str:
            n = self.numbers["NetworkDevice"]
            return self.add(
                "NetworkDevice",
                {
                    "serialNumber": f"NET{n:08d}",
                    "ip": f"10.255.{p % 256}.{n % 250 + 1}",
                    "model": model,
                    "role": role,
                    "vendor": vendor_net,
                    "location": site,
                    "environment": env,
                },
                name=f"p{p:03d}-{role}-{n:05d}",
                criticality=(0, 1, 3, 2),
            )

        spines = [switch("spine", "7280R3") for _ in range(2)]
        self.rel(spines[0], "CONNECTS_TO", spines[1], description="spine interlink")
        sans = [switch("san", "MDS-9148") for _ in range(2)]
        for s in sans:
            self.pair(s, "CONNECTS_TO", spines, f"uplink-{s}")
        tors = [switch("tor", "7050SX3") for _ in range(nd - 4)]
        for t in tors:
            self.pair(t, "CONNECTS_TO", spines, f"uplink-{t}")
        racks = [tors[i : i + 2] for i in range(0, len(tors) - 1, 2)]

        arrays = []
        for _ in range(sto):
            n = self.numbers["Storage"]
            key = self.add(
                "Storage",
                {
                    "serialNumber": f"STO{n:08d}",
                    "capacityTb": self.rng.choice((200, 400, 800)),
                    "protocol": self.rng.choice(("FC", "iSCSI", "NVMe-oF")),
                    "vendor": self.rng.choice(("NetApp", "Pure", "Dell")),
                    "location": site,
                    "environment": env,
                },
                name=f"p{p:03d}-array-{n:04d}",
                criticality=(0, 1, 3, 2),
            )
            self.pair(key, "CONNECTS_TO", sans, f"fabric-{key}")
            arrays.append(key)
        self.arrays.append(arrays)

        hosts = []
        for i in range(srv):
            n = self.numbers["Server"]
            rack = i % len(racks)
            key = self.add(
                "Server",
                {
                    "serialNumber": f"SRV{n:08d}",
                    "fqdn": f"esx{n:06d}.pod{p:03d}.dc.example",
                    "ip": f"10.{p % 256}.0.{n % 250 + 1}",
                    "os": "ESXi 8.0",
                    "cpu": self.rng.choice((32, 64, 96)),
                    "memoryGb": self.rng.choice((512, 768, 1024)),
                    "rack": f"R{rack:02d}",
                    "vendor": self.rng.choice(("Dell", "HPE", "Lenovo")),
                    "location": site,
                    "environment": env,
                },
                name=f"p{p:03d}-esx-{n:06d}",
            )
            self.pair(key, "CONNECTS_TO", racks[rack], f"net-{key}")
            self.pair(key, "CONNECTS_TO", sans, f"san-{key}")
            self.rel(key, "STORED_ON", self.rng.choice(arrays), description="boot from SAN")
            self.rel(key, "DOCUMENTED_BY", self.doc())
            hosts.append(key)

        workers: list[str] = []
        plain: list[str] = []
        n_workers = max(1, round(vms * WORKER_SHARE)) if ctr else 0
        for i in range(vms):
            n = self.numbers["VirtualMachine"]
            worker = i < n_workers
            key = self.add(
                "VirtualMachine",
                {
                    "fqdn": f"vm{n:06d}.pod{p:03d}.dc.example",
                    "ip": f"10.{p % 256}.{1 + n // 250 % 250}.{n % 250 + 1}",
                    "os": self.rng.choice(("Debian 12", "RHEL 9", "Ubuntu 24.04", "Windows 2022")),
                    "cpu": self.rng.choice((2, 4, 8, 16)),
                    "memoryGb": self.rng.choice((4, 8, 16, 32, 64)),
                    "hypervisor": "ESXi",
                    "location": site,
                    "environment": env,
                },
                name=f"{'k8s' if worker else 'vm'}-{n:06d}",
            )
            self.rel(key, "HOSTED_ON", self.rng.choice(hosts))
            disks = self.rng.sample(arrays, min(len(arrays), 2))
            for d in disks:
                self.rel(key, "STORED_ON", d)
            self.rel(key, "DOCUMENTED_BY", self.doc())
            (workers if worker else plain).append(key)
        self.plain_vms.append(plain)
        self.free_vms.append(self.rng.sample(plain, len(plain)))

        containers = []
        cluster = f"k8s-pod{p:03d}"
        for _ in range(ctr):
            n = self.numbers["Container"]
            key = self.add(
                "Container",
                {
                    "image": f"registry.example/team{n % 40}/svc:{1 + n % 9}.{n % 17}",
                    "cluster": cluster,
                    "namespace": f"ns-{n % 25:02d}",
                    "replicas": 1,
                    "environment": env,
                },
                name=f"p{p:03d}-ctr-{n:06d}",
            )
            self.rel(key, "HOSTED_ON", self.rng.choice(workers))
            self.rel(key, "DOCUMENTED_BY", self.doc())
            containers.append(key)
        return _blocks(containers, container_apps) if container_apps else []

    def _vm_in(self, pod: int, exclude: str | None = None) -> str:
        """A VM of the pod that runs nothing yet, or any non-worker VM once all are taken."""
        pool = self.free_vms[pod]
        if pool and pool[-1] != exclude:
            return pool.pop()
        return self.rng.choice([v for v in self.plain_vms[pod] if v != exclude])

    def _vm_pair(self, pod: int) -> list[str]:
        """Two VMs in two different pods (one pod only if the estate has one)."""
        first = self._vm_in(pod)
        return [first, self._vm_in(self.other_pod(pod), exclude=first)]

    def _databases(self) -> list[str]:
        out = []
        for _ in range(self.counts["Database"]):
            n = self.numbers["Database"]
            engine, port = self.rng.choice(
                (("PostgreSQL", 5432), ("MySQL", 3306), ("Oracle", 1521), ("MongoDB", 27017))
            )
            key = self.add(
                "Database",
                {
                    "engine": engine,
                    "port": port,
                    "replicationRole": "primary-replica",
                    "version": f"{self.rng.randint(8, 16)}.{self.rng.randint(0, 9)}",
                    "environment": "production",
                },
                name=f"db-{engine.lower()}-{n:05d}",
                criticality=(0, 2, 4, 2),
            )
            pod = self.rng.randrange(self.pods)
            self.pair(key, "RUNS_ON", self._vm_pair(pod), f"db-{n}")
            self.rel(key, "STORED_ON", self.rng.choice(self.arrays[pod]))
            self.rel(key, "DOCUMENTED_BY", self.doc())
            out.append(key)
        return out

    def _applications(self, blocks: list[tuple[int, list[str]]], databases: list[str]) -> None:
        total = self.counts["Application"]
        kinds: list[tuple[int, list[str]] | None] = [*blocks]
        kinds += [None] * (total - len(blocks))
        self.rng.shuffle(kinds)
        self.apps: list[str] = []
        for kind in kinds:
            n = self.numbers["Application"]
            key = self.add(
                "Application",
                {
                    "language": self.rng.choice(("Java", "Go", "Python", "TypeScript", "C#")),
                    "repository": f"https://git.example/apps/app-{n:05d}",
                    "version": f"{self.rng.randint(1, 9)}.{self.rng.randint(0, 30)}.0",
                    "environment": "production",
                },
                name=f"app-{n:05d}",
                criticality=(1, 3, 3, 2),
            )
            group = f"app-{n}"
            if kind is None:
                self.pair(key, "RUNS_ON", self._vm_pair(self.rng.randrange(self.pods)), group)
            else:
                _, containers = kind
                min_up = max(1, len(containers) // 2)
                for c in containers:
                    self.rel(key, "RUNS_ON", c, redundancyGroup=group, minUp=min_up)
            for db in self.rng.sample(databases, self.rng.choice((1, 1, 2, 2, 3))):
                self.rel(key, "DEPENDS_ON", db)
            if self.apps:
                k = min(len(self.apps), self.rng.choice((0, 1, 2, 2, 3, 4)))
                for other in self.rng.sample(self.apps, k):
                    self.rel(key, "DEPENDS_ON", other)
            self.rel(key, "DOCUMENTED_BY", self.doc())
            self.apps.append(key)

    def _services(self) -> None:
        services: list[str] = []
        for _ in range(self.counts["Service"]):
            n = self.numbers["Service"]
            key = self.add(
                "Service",
                {
                    "serviceHours": self.rng.choice(("24x7", "business hours")),
                    "tier": self.rng.choice(("gold", "silver", "bronze")),
                    "url": f"https://service-{n:04d}.example",
                    "environment": "production",
                },
                name=f"service-{n:04d}",
                criticality=(0, 2, 4, 3),
            )
            for app in self.rng.sample(self.apps, min(len(self.apps), self.rng.randint(3, 8))):
                self.rel(key, "DEPENDS_ON", app)
            if services and self.rng.random() < 0.3:
                self.rel(key, "DEPENDS_ON", self.rng.choice(services))
            self.rel(key, "DOCUMENTED_BY", self.doc())
            services.append(key)

    def _documents(self) -> None:
        for _ in range(self.counts["Document"]):
            n = self.numbers["Document"]
            kind = self.rng.choice(("runbook", "design", "build sheet", "recovery plan"))
            self.add(
                "Document",
                {"kind": kind, "url": f"https://wiki.example/doc/{n:06d}"},
                name=f"{kind.replace(' ', '-')}-{n:06d}",
                criticality=(3, 1, 0, 0),
            )


def generate(size: int = 10_000, seed: int = 20240611) -> Estate:
    estate = _Builder(size, seed).build()
    estate.seed = seed
    return estate


def validate(estate: Estate) -> None:
    """Check the estate against the CMDB registry: classes, attributes, relationship rules."""
    classes: dict[str, str] = {}
    names: set[tuple[str, str]] = set()
    identities: set[str] = set()
    for item in estate.items:
        cls = cmdb.ci_class(item["ciClass"])
        cmdb.check_attributes(cls, item["attributes"])
        cmdb.lifecycle(item["lifecycle"])
        cmdb.criticality(item["criticality"])
        if item["key"] in classes:
            raise ValueError(f"duplicate key {item['key']}")
        classes[item["key"]] = cls.name
        if (cls.name, item["name"]) in names:
            raise ValueError(f"duplicate {cls.name} name {item['name']}")
        names.add((cls.name, item["name"]))
        props = {"name": item["name"], **cmdb.attributes_to_properties(item["attributes"])}
        for key in cmdb.identity_keys(cls, props):
            if key in identities:
                raise ValueError(f"two items share the identity {key}")
            identities.add(key)
    triples: set[tuple[str, str, str]] = set()
    for rel in estate.relationships:
        rtype = cmdb.relationship_type(rel["type"])
        s, t = classes[rel["sourceKey"]], classes[rel["targetKey"]]
        if not rtype.allows(s, t):
            raise ValueError(f"{rel['type']} is not allowed from {s} to {t}: {rel}")
        cmdb.relationship_attributes(rel["attributes"])
        triple = (rel["sourceKey"], rel["type"], rel["targetKey"])
        if triple in triples or rel["sourceKey"] == rel["targetKey"]:
            raise ValueError(f"duplicate or self relationship {triple}")
        triples.add(triple)


if __name__ == "__main__":
    import sys

    e = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
    validate(e)
    print(e.describe())
