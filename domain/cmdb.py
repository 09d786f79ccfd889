"""Configuration Management: what a CI may be and how CIs may be related.

The registry is declarative: a CI class lists its attributes and identification rules, a
relationship type says between which classes it may stand and how a failure travels along it.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import links
from core.errors import ValidationFailed
from core.record_types import CI
from core.record_types import Criticality as Criticality
from core.record_types import Lifecycle as Lifecycle
from core.records import check_properties, check_value, index_label
from domain.search import full_text_errors as full_text_errors
from domain.search import full_text_search as full_text_search


class Propagation(enum.StrEnum):
    """How a failure travels along a relationship `(source)-[:TYPE]->(target)`."""

    TO_SOURCE = "to_source"  # the target failing hurts the source: DEPENDS_ON, RUNS_ON
    TO_TARGET = "to_target"  # the source failing hurts the target: PART_OF
    BOTH = "both"  # either side failing hurts the other: CONNECTS_TO
    NONE = "none"  # informational only: DOCUMENTED_BY


@dataclass(frozen=True)
class CIClass:
    name: str
    attributes: frozenset[str] = frozenset()
    # Each rule is a tuple of fields that together identify one CI of this class on import.
    identification: tuple[tuple[str, ...], ...] = (("name",),)
    description: str = ""
    # Field or attribute -> the only import source allowed to overwrite it.
    authoritative: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RelationshipType:
    name: str
    propagation: Propagation
    sources: frozenset[str]  # CI class names, or "*" for any
    targets: frozenset[str]
    description: str = ""
    # How each end speaks of the other: "checkout depends on orders-db" (the source's phrase),
    # "orders-db is needed by checkout" (the target's). Impact reasons are told from either.
    phrase: str = ""
    inverse: str = ""

    def seen_from(self, source: bool) -> str:
        """The relationship as the CI at one end says it of the other: its source or target."""
        if source:
            return self.phrase or self.name.lower().replace("_", " ")
        return self.inverse or f"is linked by {self.name} to"

    def allows(self, source_class: str, target_class: str) -> bool:
        return ("*" in self.sources or source_class in self.sources) and (
            "*" in self.targets or target_class in self.targets
        )


# `sourceType`: the class name the sending tool used ("Notebook", "cmdb_ci_computer"), so an
# import that maps a tool's classes onto these keeps what the tool said.
_COMMON = frozenset({"vendor", "location", "environment", "version", "url", "sourceType"})

_AUTHORITATIVE_HW = {"serialNumber": "asset-register"}

# Hardware people carry, sit at or print on: the asset register knows its serial numbers and
# asset tags; who has it is an attribute until persons are CIs.
_ASSET = frozenset({"serialNumber", "assetTag", "model", "assignedUser", "purchaseDate"})
_ASSET_IDENTIFICATION = (("serialNumber",), ("assetTag",), ("name",))
_AUTHORITATIVE_ASSET = {"serialNumber": "asset-register", "assetTag": "asset-register"}
_END_USER_COMPUTER = _COMMON | _ASSET | {"os", "hostname", "ip", "macAddress", "cpu", "memoryGb"}


def _asset_class(name: str, attributes: frozenset[str], description: str) -> CIClass:
    return CIClass(
        name,
        attributes,
        identification=_ASSET_IDENTIFICATION,
        description=description,
        authoritative=_AUTHORITATIVE_ASSET,
    )


CI_CLASSES: dict[str, CIClass] = {
    c.name: c
    for c in (
        CIClass("Service", _COMMON | {"serviceHours", "tier"}, description="what users see"),
        CIClass("Application", _COMMON | {"language", "repository"}),
        CIClass("Database", _COMMON | {"engine", "port", "replicationRole"}),
        CIClass(
            "Server",
            _COMMON | {"serialNumber", "fqdn", "ip", "os", "cpu", "memoryGb", "rack"},
            identification=(("serialNumber",), ("fqdn",), ("name",)),
            authoritative=_AUTHORITATIVE_HW,
        ),
        CIClass(
            "VirtualMachine",
            _COMMON | {"fqdn", "ip", "os", "cpu", "memoryGb", "hypervisor"},
            identification=(("fqdn",), ("name",)),
        ),
        CIClass("Container", _COMMON | {"image", "cluster", "namespace", "replicas"}),
        CIClass(
            "NetworkDevice",
            _COMMON | {"serialNumber", "ip", "model", "role"},
            identification=(("serialNumber",), ("name",)),
            authoritative=_AUTHORITATIVE_HW,
        ),
        CIClass(
            "Storage",
            _COMMON | {"serialNumber", "capacityTb", "protocol"},
            identification=(("serialNumber",), ("name",)),
            authoritative=_AUTHORITATIVE_HW,
        ),
        CIClass("Document", _COMMON | {"kind"}),
        _asset_class("Laptop", _END_USER_COMPUTER, "a portable end-user computer"),
        _asset_class("Desktop", _END_USER_COMPUTER, "a workstation at a desk"),
        _asset_class(
            "ThinClient", _END_USER_COMPUTER | {"broker"}, "a terminal for a remote desktop"
        ),
        _asset_class(
            "MobilePhone",
            _COMMON | _ASSET | {"os", "imei", "phoneNumber"},
            "a company phone or tablet",
        ),
        _asset_class(
            "Printer",
            _COMMON | _ASSET | {"ip", "hostname", "macAddress", "colour", "duplex"},
            "a printer or multi-function device",
        ),
        _asset_class("Monitor", _COMMON | _ASSET | {"sizeInches", "resolution"}, "a display"),
        _asset_class(
            "Hardware",
            _COMMON | _ASSET | {"kind", "ip"},
            "any other piece of equipment: docking station, scanner, UPS, badge reader",
        ),
    )
}

_ANY = frozenset({"*"})
_COMPUTE = frozenset({"Server", "VirtualMachine", "Container"})
_SOFTWARE = frozenset({"Service", "Application", "Database", "Container"})
_END_USER_COMPUTERS = frozenset({"Laptop", "Desktop", "ThinClient"})
_ON_THE_NETWORK = _END_USER_COMPUTERS | {"MobilePhone", "Printer", "Hardware"}

RELATIONSHIP_TYPES: dict[str, RelationshipType] = {
    r.name: r
    for r in (
        RelationshipType(
            "DEPENDS_ON",
            Propagation.TO_SOURCE,
            _ANY,
            _ANY,
            "the source needs the target to work",
            "depends on",
            "is needed by",
        ),
        RelationshipType(
            "RUNS_ON",
            Propagation.TO_SOURCE,
            _SOFTWARE,
            _COMPUTE,
            "software runs on compute",
            "runs on",
            "runs",
        ),
        RelationshipType(
            "HOSTED_ON",
            Propagation.TO_SOURCE,
            frozenset({"VirtualMachine", "Container", "Server"}),
            frozenset({"Server", "VirtualMachine"}),
            "a guest hosted on a host",
            "is hosted on",
            "hosts",
        ),
        RelationshipType(
            "STORED_ON",
            Propagation.TO_SOURCE,
            frozenset({"Database", "Server", "VirtualMachine"}),
            frozenset({"Storage"}),
            "data lives on storage",
            "is stored on",
            "stores",
        ),
        RelationshipType(
            "CONNECTS_TO",
            Propagation.TO_SOURCE,
            frozenset({"Server", "VirtualMachine", "NetworkDevice", "Storage"}) | _ON_THE_NETWORK,
            frozenset({"NetworkDevice", "Storage", "Server"}),
            "reaches the network through the target",
            "connects to",
            "connects",
        ),
        RelationshipType(
            "ATTACHED_TO",
            Propagation.TO_SOURCE,
            frozenset({"Monitor", "Printer", "Hardware"}),
            _END_USER_COMPUTERS | {"Server"},
            "a peripheral plugged into a computer, useless when it is down",
            "is attached to",
            "has attached",
        ),
        RelationshipType(
            "SYNCS_WITH",
            Propagation.BOTH,
            frozenset({"Database", "Storage"}),
            frozenset({"Database", "Storage"}),
            "synchronous replication: either side failing stalls the other",
            "syncs with",
            "syncs with",
        ),
        RelationshipType(
            "PART_OF",
            Propagation.TO_TARGET,
            _ANY,
            _ANY,
            "a component of a larger whole",
            "is part of",
            "is made up of",
        ),
        RelationshipType(
            "DOCUMENTED_BY",
            Propagation.NONE,
            _ANY,
            frozenset({"Document"}),
            "documentation",
            "is documented by",
            "documents",
        ),
    )
}


def _register_links() -> None:
    """Every CI relationship type joins two CIs in the one link registry; which classes it may
    join is this module's finer rule (`RelationshipType.allows`). Each class label gets its
    name index."""
    for name in CI_CLASSES:
        index_label(name, "name")
    links.register(
        *(
            links.LinkType(r.name, frozenset({"CI"}), frozenset({"CI"}), r.description)
            for r in RELATIONSHIP_TYPES.values()
        )
    )


_register_links()

_ATTRIBUTE_NAME = re.compile(r"^[a-z][A-Za-z0-9]{0,40}$")
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,40}$")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,40}$")
CORE_FIELDS = ("name", "lifecycle", "criticality", "owner", "description")


def extend_registry(config: Mapping[str, Any]) -> None:
    """Add or replace CI classes and relationship types from configuration (JSON).

    {"classes": {"LoadBalancer": {"attributes": ["vip"], "identification": [["serialNumber"]],
      "authoritative": {"serialNumber": "asset-register"}, "extends": "NetworkDevice"}},
     "relationshipTypes": {"REPLICATES_TO": {"propagation": "none",
      "sources": ["Database"], "targets": ["Database"],
      "phrase": "replicates to", "inverse": "is replicated from"}}}
    """
    for name, spec in dict(config.get("classes", {})).items():
        if not _CLASS_NAME.match(name):
            raise ValueError(f"CI class names are CamelCase identifiers: {name!r}")
        base = CI_CLASSES.get(spec.get("extends", ""), CIClass(name, _COMMON))
        attributes = base.attributes | frozenset(spec.get("attributes", ()))
        bad = [a for a in attributes if not _ATTRIBUTE_NAME.match(a)]
        if bad:
            raise ValueError(f"attribute names are camelCase identifiers: {bad}")
        CI_CLASSES[name] = CIClass(
            name,
            attributes,
            tuple(tuple(rule) for rule in spec.get("identification", base.identification)),
            spec.get("description", ""),
            dict(spec.get("authoritative", base.authoritative)),
        )
    for name, spec in dict(config.get("relationshipTypes", {})).items():
        if not _TYPE_NAME.match(name):
            raise ValueError(f"relationship types are UPPER_SNAKE identifiers: {name!r}")
        RELATIONSHIP_TYPES[name] = RelationshipType(
            name,
            Propagation(spec.get("propagation", "to_source")),
            frozenset(spec.get("sources", ["*"])),
            frozenset(spec.get("targets", ["*"])),
            spec.get("description", ""),
            spec.get("phrase", ""),
            spec.get("inverse", ""),
        )
    _register_links()


def load_registry_file(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        extend_registry(json.load(handle))


if os.environ.get("ITSM_CMDB_CONFIG"):
    load_registry_file(os.environ["ITSM_CMDB_CONFIG"])


def identity_keys(cls: CIClass, props: Mapping[str, Any]) -> list[str]:
    """The keys that identify this CI, one per identification rule whose fields are all set.

    Values are compared case-insensitively and trimmed: "SN-1 " and "sn-1" are one server.
    """
    keys = []
    for rule in cls.identification:
        values = []
        for name in rule:
            value = props.get(name if name in CORE_FIELDS else ATTRIBUTE_PREFIX + name)
            if value is None or str(value).strip() == "":
                break
            values.append(f"{name}={str(value).strip().lower()}")
        else:
            keys.append(f"{cls.name}|" + "&".join(values))
    return keys


def ci_class(name: str, *, field_name: str = "ciClass") -> CIClass:
    try:
        return CI_CLASSES[name]
    except KeyError:
        known = ", ".join(sorted(CI_CLASSES))
        raise ValidationFailed(
            field_name, "unknown_class", f"unknown CI class {name!r}; one of: {known}"
        ) from None


def relationship_type(name: str, *, field_name: str = "type") -> RelationshipType:
    try:
        return RELATIONSHIP_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(RELATIONSHIP_TYPES))
        raise ValidationFailed(
            field_name,
            "unknown_relationship_type",
            f"unknown relationship type {name!r}; one of: {known}",
        ) from None


def lifecycle(value: str, *, field_name: str = "lifecycle") -> Lifecycle:
    return Lifecycle(check_value(CI.by_name["lifecycle"], value, field_name))


def criticality(value: str, *, field_name: str = "criticality") -> Criticality:
    return Criticality(check_value(CI.by_name["criticality"], value, field_name))


def check_attributes(
    cls: CIClass, attributes: Mapping[str, Any], *, field_name: str = "attributes"
) -> dict[str, Any]:
    """Attributes are flat scalars (or lists of scalars) the class declares."""
    checked: dict[str, Any] = {}
    for key, value in attributes.items():
        where = f"{field_name}.{key}"
        if key not in cls.attributes or not _ATTRIBUTE_NAME.match(key):
            allowed = ", ".join(sorted(cls.attributes))
            raise ValidationFailed(
                where,
                "attribute_not_allowed",
                f"attribute {key!r} is not allowed for class {cls.name}; allowed: {allowed}",
            )
        if not _is_scalar(value) and not (
            isinstance(value, list) and all(_is_scalar(v) for v in value)
        ):
            raise ValidationFailed(
                where, "not_scalar", f"attribute {key!r} must be a string, number, boolean or list"
            )
        checked[key] = value
    return checked


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


ATTRIBUTE_PREFIX = "attr_"


def attributes_to_properties(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Attributes become ordinary node properties so they can be indexed and filtered in Cypher.
    return {ATTRIBUTE_PREFIX + k: v for k, v in attributes.items()}


def properties_to_attributes(props: Mapping[str, Any]) -> dict[str, Any]:
    n = len(ATTRIBUTE_PREFIX)
    return {k[n:]: v for k, v in props.items() if k.startswith(ATTRIBUTE_PREFIX)}


# Which import source last wrote a field or attribute: `src_<name>`.
SOURCE_PREFIX = "src_"


def field_name(prop: str) -> str:
    """The field or attribute a stored property holds: `attr_os` -> `os`."""
    return prop[len(ATTRIBUTE_PREFIX) :] if prop.startswith(ATTRIBUTE_PREFIX) else prop


def shown_property(prop: str) -> str:
    """A stored property as users know it: `attr_os` -> `attributes.os`, `src_os` ->
    `source of os`; every other property is stored under its own name."""
    if prop.startswith(ATTRIBUTE_PREFIX):
        return "attributes." + prop[len(ATTRIBUTE_PREFIX) :]
    if prop.startswith(SOURCE_PREFIX):
        return "source of " + prop[len(SOURCE_PREFIX) :]
    return prop


def history_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A CI's audit entry with its before and after (stored as JSON) as users know them.

    The stored entries keep storage names, so that the trail is never rewritten; this
    translation is for reading, and covers every kind of entry: the property maps of creates
    and updates, and the relationship lists of relates.
    """
    shown = dict(entry)
    for side in ("before", "after"):
        if entry.get(side):
            shown[side] = json.dumps(_shown_values(json.loads(entry[side])))
    return shown


def _shown_values(values: Any) -> Any:
    if isinstance(values, dict):
        return {shown_property(k): _shown_values(v) for k, v in values.items()}
    if isinstance(values, list):
        return [_shown_values(v) for v in values]
    return values


@dataclass(frozen=True)
class NewCI:
    ci_class: str
    name: str
    lifecycle: str = Lifecycle.LIVE.value
    criticality: str = Criticality.MEDIUM.value
    owner: str | None = None
    description: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CIChanges:
    name: str | None = None
    lifecycle: str | None = None
    criticality: str | None = None
    owner: str | None = None
    description: str | None = None
    attributes: Mapping[str, Any] | None = None


def ci_properties(new: NewCI) -> dict[str, Any]:
    """Check a new CI against its class and its record declaration; the properties to store."""
    cls = ci_class(new.ci_class)
    props = check_properties(
        CI,
        {
            "name": new.name,
            "ciClass": cls.name,
            "lifecycle": new.lifecycle,
            "criticality": new.criticality,
            "owner": new.owner,
            "description": new.description,
        },
        creating=True,
    )
    props.update(attributes_to_properties(check_attributes(cls, new.attributes)))
    return props


def ci_changes(current_class: str, changes: CIChanges) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The properties to set and the ones to remove (attributes given as null)."""
    cls = ci_class(current_class)
    sent = {
        "name": changes.name,
        "lifecycle": changes.lifecycle,
        "criticality": changes.criticality,
        "owner": changes.owner,
        "description": changes.description,
    }
    props = check_properties(CI, {k: v for k, v in sent.items() if v is not None}, creating=False)
    remove: list[str] = []
    if changes.attributes is not None:
        attrs = check_attributes(cls, changes.attributes)
        props.update(attributes_to_properties({k: v for k, v in attrs.items() if v is not None}))
        remove.extend(ATTRIBUTE_PREFIX + k for k, v in attrs.items() if v is None)
    return props, tuple(remove)


def check_relationship(
    rel: RelationshipType,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
) -> None:
    if source["id"] == target["id"]:
        raise ValidationFailed("targetId", "self_loop", "a CI cannot be related to itself")
    if target.get("lifecycle") == Lifecycle.RETIRED.value:
        raise ValidationFailed(
            "targetId",
            "retired_target",
            f"CI {target['name']!r} is retired and cannot be the target of a new relationship",
        )
    if source.get("lifecycle") == Lifecycle.RETIRED.value:
        raise ValidationFailed(
            "sourceId",
            "retired_source",
            f"CI {source['name']!r} is retired and cannot gain relationships",
        )
    if not rel.allows(source["ciClass"], target["ciClass"]):
        raise ValidationFailed(
            "type",
            "relationship_not_allowed",
            f"{rel.name} is not allowed from {source['ciClass']} to {target['ciClass']}",
        )


RELATIONSHIP_ATTRIBUTES = frozenset(
    {"redundancyGroup", "minUp", "weight", "description", "port", "protocol"}
)


def relationship_attributes(
    attributes: Mapping[str, Any], field_name: str = "attributes"
) -> dict[str, Any]:
    """Relationship attributes: redundancy (`redundancyGroup`, `minUp`), `weight`, and notes."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        where = f"{field_name}.{key}"
        if key not in RELATIONSHIP_ATTRIBUTES:
            allowed = ", ".join(sorted(RELATIONSHIP_ATTRIBUTES))
            raise ValidationFailed(
                where, "attribute_not_allowed", f"{key!r} is not one of: {allowed}"
            )
        if key == "minUp" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValidationFailed(where, "not_positive_integer", "minUp is a whole number >= 1")
        if key == "weight" and (
            not isinstance(value, int | float) or isinstance(value, bool) or value < 0
        ):
            raise ValidationFailed(where, "not_a_weight", "weight is a number >= 0")
        if key == "redundancyGroup" and (not isinstance(value, str) or not value.strip()):
            raise ValidationFailed(where, "required", "redundancyGroup is a non-empty name")
        if not _is_scalar(value):
            raise ValidationFailed(where, "not_scalar", f"{key!r} must be a scalar")
        out[key] = value
    if "minUp" in out and "redundancyGroup" not in out:
        raise ValidationFailed(
            f"{field_name}.minUp", "needs_group", "minUp only makes sense with a redundancyGroup"
        )
    return out
