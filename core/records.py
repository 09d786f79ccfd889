"""Record declarations: each record type of the ten processes, declared once.

A declaration says what a record is: its label, the human number people quote (`INC0001001`), its
properties (type, closed set of values, default, whether required, indexed, sortable or
searchable as full text), the relationships it may have, and its state machine where it has one.
Constraints and indexes (`graphdb.migrations`), the generic Cypher (`graphdb.records`), input
checks (`check_properties`) and the GraphQL filters and connections come from it; what is
specific to a process stays hand-written beside it.

The storage layer writes only labels declared here, so a label never comes from user input.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from core.errors import ValidationFailed
from core.links import LINK_TYPES
from core.states import StateMachine


class Kind(enum.StrEnum):
    """What a property holds, as stored in Neo4j."""

    STRING = "string"  # a short line: a name, a code
    TEXT = "text"  # prose: descriptions, notes, bodies
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    STRINGS = "strings"  # a list of short strings: keywords, tags
    INTS = "ints"  # a list of whole numbers: warning percentages


_SHORT = 200
_LONG = 100_000


@dataclass(frozen=True)
class Prop:
    name: str
    kind: Kind = Kind.STRING
    description: str = ""
    required: bool = False
    # A closed set of values (an enum class whose values are stored), or None for any.
    values: type[enum.StrEnum] | None = None
    default: Any = None
    indexed: bool = False  # a range index: filters and sorts on it are served by the index
    sortable: bool = False  # lists may be ordered by it (implies indexed)
    fulltext: bool = False  # part of the record type's full-text index
    max_length: int | None = None
    derived: bool = False  # computed by the system (a blast radius), never taken from input
    # Given only with a transition (a reason to send back, a resolution), not by create or
    # update: the step that needs it is where it is checked.
    by_transition: bool = False

    @property
    def limit(self) -> int:
        if self.max_length is not None:
            return self.max_length
        return _LONG if self.kind is Kind.TEXT else _SHORT


class Direction(enum.StrEnum):
    OUT = "out"  # (this)-[:TYPE]->(other)
    IN = "in"  # (other)-[:TYPE]->(this)


@dataclass(frozen=True)
class LinkSpec:
    """A relationship a record type may have, seen from it (from the one link registry)."""

    type: str
    direction: Direction
    others: frozenset[str]  # labels at the other end
    description: str = ""


@dataclass(frozen=True)
class LinkField:
    """A relationship that a record's create and update inputs set by ids (`services: [ID!]`):
    the input field, the registry's relationship type, and the label at the other end (a CI
    class such as Service names CIs of that class, given by their CI ids)."""

    name: str
    type: str
    other: str
    direction: Direction = Direction.OUT
    many: bool = True
    required: bool = False  # must be given, and not empty, on create
    description: str = ""


def _apart(one: str, other: str) -> bool:
    """Whether no node can be both: two different record types (a CI class is also a CI)."""
    return (
        one != other
        and one in RECORD_TYPES
        and other in RECORD_TYPES
        and "CI"
        not in (
            one,
            other,
        )
    )


_LABEL = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
_PROP = re.compile(r"^[a-z][A-Za-z0-9]{0,62}$")

# Every stored record has these; the write path sets them.
SYSTEM_PROPERTIES = ("id", "number", "createdAt", "updatedAt", "version")


@dataclass(frozen=True)
class RecordType:
    label: str
    number_prefix: str | None = None
    process: str = ""
    description: str = ""
    properties: tuple[Prop, ...] = ()
    states: StateMachine | None = None
    link_fields: tuple[LinkField, ...] = ()
    by_name: Mapping[str, Prop] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise ValueError(f"record labels are CamelCase identifiers: {self.label!r}")
        names: dict[str, Prop] = {}
        for prop in self.properties:
            if not _PROP.match(prop.name) or prop.name in SYSTEM_PROPERTIES:
                raise ValueError(f"{self.label}: not a declarable property name {prop.name!r}")
            if prop.name in names:
                raise ValueError(f"{self.label}: property {prop.name!r} declared twice")
            names[prop.name] = prop
        if self.states is not None and self.states.property not in names:
            raise ValueError(
                f"{self.label}: its state machine keeps the state in {self.states.property!r}, "
                "which is not a declared property"
            )
        for link in self.link_fields:
            if not _PROP.match(link.name) or link.name in names or link.name in SYSTEM_PROPERTIES:
                raise ValueError(f"{self.label}: not a usable link field name {link.name!r}")
            same = [
                f
                for f in self.link_fields
                if (f.type, f.direction) == (link.type, link.direction)
                and not _apart(f.other, link.other)
            ]
            if [f.name for f in self.link_fields].count(link.name) > 1 or len(same) > 1:
                # Two fields over one relationship type would each replace the other's links,
                # unless they reach records of different types (an SLA, an OLA).
                raise ValueError(f"{self.label}: link field {link.name!r} is not the only one")
            known = LINK_TYPES.get(link.type)
            if known is None:
                raise ValueError(f"{self.label}.{link.name}: {link.type} is not a registered link")
            ours, theirs = (
                (known.sources, known.targets)
                if link.direction is Direction.OUT
                else (known.targets, known.sources)
            )
            if not ({self.label, "*"} & ours and {link.other, "CI", "*"} & theirs):
                raise ValueError(
                    f"{self.label}.{link.name}: {link.type} does not join {self.label} and "
                    f"{link.other} that way"
                )
        object.__setattr__(self, "by_name", names)

    @property
    def fulltext_properties(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties if p.fulltext)

    @property
    def fulltext_index(self) -> str | None:
        return f"{self.label.lower()}_text" if self.fulltext_properties else None

    @property
    def indexed_properties(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties if p.indexed or p.sortable)

    @property
    def sortable_properties(self) -> tuple[str, ...]:
        return (
            "number",
            "createdAt",
            "updatedAt",
            *(p.name for p in self.properties if p.sortable),
        )

    @property
    def links(self) -> list[LinkSpec]:
        """The relationships it may have, as the link registry lists them."""
        out = []
        for link in LINK_TYPES.values():
            if self.label in link.sources or "*" in link.sources:
                out.append(LinkSpec(link.name, Direction.OUT, link.targets, link.description))
            if self.label in link.targets or "*" in link.targets:
                out.append(LinkSpec(link.name, Direction.IN, link.sources, link.description))
        return out


RECORD_TYPES: dict[str, RecordType] = {}


def declare(*record_types: RecordType) -> None:
    """Add record types; a label declared twice must be declared the same way."""
    for record_type in record_types:
        known = RECORD_TYPES.get(record_type.label)
        if known is not None and known != record_type:
            raise ValueError(f"record type {record_type.label} is declared twice, differently")
        RECORD_TYPES[record_type.label] = record_type


# Labels that are not record types but name a kind of record (a CI's class is a second label
# on the CI) and the properties to index under them, registered by the domain that owns them.
LABEL_INDEXES: dict[str, tuple[str, ...]] = {}


def index_label(label: str, *properties: str) -> None:
    if not _LABEL.match(label) or not all(_PROP.match(p) for p in properties):
        raise ValueError(f"not an indexable label and properties: {label!r} {properties!r}")
    LABEL_INDEXES[label] = tuple(dict.fromkeys((*LABEL_INDEXES.get(label, ()), *properties)))


def record_type(label: str) -> RecordType:
    try:
        return RECORD_TYPES[label]
    except KeyError:
        raise ValueError(f"{label!r} is not a declared record type") from None


# -- checking input against a declaration ---------------------------------------------------


def check_value(prop: Prop, value: Any, where: str) -> Any:
    """One value against its declaration; returns it as stored (enums by value, text trimmed)."""
    if value is None:
        if prop.required:
            raise ValidationFailed(where, "required", f"{prop.name} is required")
        return None
    if prop.values is not None:
        raw = value.value if isinstance(value, enum.Enum) else value
        allowed = [v.value for v in prop.values]
        if raw not in allowed:
            raise ValidationFailed(
                where,
                f"unknown_{prop.name.lower()}",
                f"unknown {prop.name} {raw!r}; one of: {', '.join(allowed)}",
            )
        return raw
    match prop.kind:
        case Kind.STRING | Kind.TEXT:
            if not isinstance(value, str):
                raise ValidationFailed(where, "not_a_string", f"{prop.name} must be text")
            cleaned = value.strip() if prop.kind is Kind.STRING else value
            if prop.required and not cleaned.strip():
                raise ValidationFailed(where, "required", f"{prop.name} must not be empty")
            if len(cleaned) > prop.limit:
                raise ValidationFailed(
                    where,
                    "too_long",
                    f"{prop.name} has at most {prop.limit} characters",
                    limit=prop.limit,
                )
            return cleaned
        case Kind.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationFailed(where, "not_an_integer", f"{prop.name} is a whole number")
            return value
        case Kind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationFailed(where, "not_a_number", f"{prop.name} is a number")
            return float(value)
        case Kind.BOOL:
            if not isinstance(value, bool):
                raise ValidationFailed(where, "not_a_boolean", f"{prop.name} is true or false")
            return value
        case Kind.DATETIME:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValidationFailed(
                    where, "not_a_time", f"{prop.name} is a time with its UTC offset"
                )
            return value
        case Kind.STRINGS:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValidationFailed(where, "not_strings", f"{prop.name} is a list of strings")
            items = [v.strip() for v in value]
            if any(len(v) > prop.limit for v in items):
                raise ValidationFailed(
                    where, "too_long", f"each of {prop.name} has at most {prop.limit} characters"
                )
            return items
        case Kind.INTS:
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise ValidationFailed(
                    where, "not_integers", f"{prop.name} is a list of whole numbers"
                )
            return list(value)
    raise AssertionError(prop.kind)  # pragma: no cover - the match is exhaustive


def check_properties(
    record: RecordType,
    values: Mapping[str, Any],
    *,
    creating: bool,
    prefix: str = "",
    step: bool = False,
) -> dict[str, Any]:
    """Input for a record checked against its declaration, as it will be stored.

    Creating fills defaults and insists on required properties; an update checks only what it
    sends; `step` says the values come with a transition, the only place for `by_transition`
    properties. A property the declaration does not know is refused by name. `prefix` is put before
    field names in errors (`items[3].`).
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        prop = record.by_name.get(name)
        if prop is None:
            known = ", ".join(sorted(record.by_name))
            raise ValidationFailed(
                prefix + name,
                "unknown_property",
                f"{record.label} has no property {name!r}; it has: {known}",
            )
        if record.states is not None and name == record.states.property:
            raise ValidationFailed(
                prefix + name,
                "state_by_transition",
                f"a {record.label}'s {name} changes only through its transitions",
            )
        if prop.derived:
            raise ValidationFailed(
                prefix + name, "derived", f"{name} is computed by the system, not set"
            )
        if prop.by_transition and not step:
            raise ValidationFailed(
                prefix + name, "by_transition", f"{name} is given with the step that needs it"
            )
        if value is None and not creating and prop.required:
            raise ValidationFailed(prefix + name, "required", f"{name} cannot be cleared")
        out[name] = check_value(prop, value, prefix + name)
    if creating:
        if record.states is not None:
            out[record.states.property] = record.states.initial
        for prop in record.properties:
            if out.get(prop.name) is None and prop.default is not None:
                default = prop.default
                out[prop.name] = default.value if isinstance(default, enum.Enum) else default
            if prop.required and out.get(prop.name) is None:
                raise ValidationFailed(prefix + prop.name, "required", f"{prop.name} is required")
    return out


# -- what the values of a closed set mean ------------------------------------------------------
#
# A declaration's enums stay plain `StrEnum`s for the domain; what each value means to a person
# is registered beside them, so that the API can describe every value without a second,
# hand-written copy of the set.

E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True)
class ValueDescriptions:
    description: str  # what the set as a whole is
    members: Mapping[str, str]  # stored value -> what it means


_VALUE_DESCRIPTIONS: dict[type[enum.StrEnum], ValueDescriptions] = {}


def describe(values: type[E], description: str, members: Mapping[E, str]) -> type[E]:
    """Say what a closed set and each of its values mean; every value must be described."""
    missing = [m.value for m in values if m not in members]
    if missing:
        raise ValueError(f"{values.__name__}: no description for {', '.join(missing)}")
    _VALUE_DESCRIPTIONS[values] = ValueDescriptions(
        description, {m.value: text for m, text in members.items()}
    )
    return values


def descriptions_of(values: type[enum.StrEnum]) -> ValueDescriptions:
    try:
        return _VALUE_DESCRIPTIONS[values]
    except KeyError:
        raise ValueError(
            f"{values.__name__} is not described: call core.records.describe for it"
        ) from None
