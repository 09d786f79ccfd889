"""GraphQL pieces generated from a record declaration, so that a process's schema module declares
only its node type: the enums of its closed sets and states, the filter and order inputs of its
list, the input of its transitions, and the registry that lets `node(id:)` serve its records.

Every name and description comes from the declaration (`core.records`), so the API describes
each field, argument and enum value without a hand-written copy of the declaration.
"""

# Without postponed annotations: the generated classes are annotated with types made at run
# time, which Strawberry must see as objects rather than as names to look up in this module.

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case, to_snake_case

from core.ids import to_global_id
from core.records import Kind, Prop, RecordType, descriptions_of
from schema.common import MutationPayload, to_datetime


@strawberry.enum(description="Which way a sort runs.")
class SortDirection(enum.Enum):
    ASC = strawberry.enum_value("asc", description="Smallest first (A to Z, oldest first).")
    DESC = strawberry.enum_value("desc", description="Largest first (Z to A, newest first).")


def stored(member: enum.Enum) -> str:
    """The value the graph stores for a member of a GraphQL enum (`enum_value` hides its type
    from mypy)."""
    return str(member.value)


def constant_name(name: str) -> str:
    """`createdAt` and `on_hold` as enum member names: CREATED_AT, ON_HOLD."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


# Generated types are kept by name: one GraphQL name is one type, however many modules ask.
_MADE: dict[str, Any] = {}


def _once(name: str, make: Callable[[], Any]) -> Any:
    if name not in _MADE:
        _MADE[name] = make()
    return _MADE[name]


def _enum(name: str, description: str, members: Iterable[tuple[str, str, str]]) -> type[enum.Enum]:
    """A Strawberry enum from (member name, stored value, description) triples."""

    def make() -> type[enum.Enum]:
        values = {
            member: strawberry.enum_value(value, description=text)
            for member, value, text in members
        }
        made: type[enum.Enum] = enum.Enum(name, values)  # type: ignore[misc]
        return strawberry.enum(made, description=description)

    made: type[enum.Enum] = _once(name, make)
    return made


def values_enum(values: type[enum.StrEnum]) -> type[enum.Enum]:
    """The GraphQL enum of a declaration's closed set, named like it, described as registered
    with `core.records.describe`; members keep the names and stored values of the set."""
    described = descriptions_of(values)
    return _enum(
        values.__name__,
        described.description,
        ((m.name, m.value, described.members[m.value]) for m in values),
    )


def state_enum(record: RecordType) -> type[enum.Enum]:
    """The states of a record type's machine as a GraphQL enum (`<Label>State`)."""
    machine = record.states
    if machine is None:
        raise ValueError(f"{record.label} has no state machine")

    def text(state: str) -> str:
        steps = sorted(t.name for t in machine.transitions if t.target == state)
        parts = ["Where every record starts."] if state == machine.initial else []
        if steps:
            parts.append(f"Reached by: {', '.join(steps)}.")
        if state in machine.final:
            parts.append("Final: nothing follows it.")
        return " ".join(parts) or f"The {state} state."

    return _enum(
        f"{record.label}State",
        f"Where a {record.label} is in its life; it moves only through its transitions.",
        ((constant_name(s), s, text(s)) for s in machine.states),
    )


_SCALARS: Mapping[Kind, Any] = {
    Kind.STRING: str,
    Kind.TEXT: str,
    Kind.INT: int,
    Kind.FLOAT: float,
    Kind.BOOL: bool,
    Kind.DATETIME: datetime,
    Kind.STRINGS: list[str],
    Kind.INTS: list[int],
}


def value_type(record: RecordType, prop: Prop) -> Any:
    """The GraphQL type of one property's value."""
    if record.states is not None and prop.name == record.states.property:
        return state_enum(record)
    if prop.values is not None:
        return values_enum(prop.values)
    return _SCALARS[prop.kind]


def _input(name: str, description: str, fields: list[tuple[str, Any, Any, str]]) -> type[Any]:
    """A Strawberry input from (python name, type, default, description) tuples."""

    def make() -> type[Any]:
        cls = type(
            name,
            (),
            {
                "__annotations__": {f[0]: f[1] for f in fields},
                **{f[0]: strawberry.field(default=f[2], description=f[3]) for f in fields},
            },
        )
        return strawberry.input(cls, name=name, description=description)

    made: type[Any] = _once(name, make)
    return made


def filter_input(record: RecordType) -> type[Any] | None:
    """`<Label>Filter`: one optional field per indexed property (any of the values given; one
    value is a list of one), and `search` where the type has full-text properties; None when
    the type has nothing to filter on (GraphQL has no empty input types)."""
    fields: list[tuple[str, Any, Any, str]] = []
    for name in record.indexed_properties:
        prop = record.by_name[name]
        fields.append(
            (
                to_snake_case(name),
                list[value_type(record, prop)] | None,  # type: ignore[misc]
                None,
                f"Only records whose {name} is one of these. {prop.description}".strip(),
            )
        )
    if record.fulltext_properties:
        fields.append(
            (
                "search",
                str | None,
                None,
                "Words to find in " + ", ".join(record.fulltext_properties) + " (prefix match; "
                "every word must match).",
            )
        )
    if not fields:
        return None
    return _input(
        f"{record.label}Filter",
        f"Conditions on {record.label} records; all given conditions must hold.",
        fields,
    )


_SYSTEM_ORDER = {
    "number": "The number people quote.",
    "createdAt": "When the record was created.",
    "updatedAt": "When the record last changed.",
}


def order_field_enum(record: RecordType) -> type[enum.Enum]:
    return _enum(
        f"{record.label}OrderField",
        f"What {record.label} records can be sorted by.",
        (
            (
                constant_name(name),
                name,
                _SYSTEM_ORDER.get(name) or record.by_name[name].description or name,
            )
            for name in record.sortable_properties
        ),
    )


def order_input(record: RecordType, default: str = "createdAt") -> type[Any]:
    """`<Label>Order`: a sortable property and a direction."""
    fields = order_field_enum(record)
    return _input(
        f"{record.label}Order",
        f"How to sort {record.label} records.",
        [
            (
                "field",
                fields,
                fields(default),
                "What to sort by; ties are settled by id.",
            ),
            ("direction", SortDirection, SortDirection.ASC, "Which way the sort runs."),
        ],
    )


def changes_input(record: RecordType) -> type[Any]:
    """`<Label>Changes`: the properties a caller may set with a transition, all optional."""
    state = record.states.property if record.states else None
    fields = [
        (
            to_snake_case(p.name),
            value_type(record, p) | None,
            None,
            p.description or p.name,
        )
        for p in record.properties
        if not p.derived and p.name != state
    ]
    return _input(
        f"{record.label}Changes",
        f"Properties of a {record.label} to set together with a transition.",
        fields,
    )


def _id_and_version(record: RecordType, what: str) -> list[tuple[str, Any, Any, str]]:
    return [
        ("id", strawberry.ID, dataclasses.MISSING, f"The {record.label}'s global id."),
        (
            "version",
            int | None,
            None,
            "The version you last read; a stale one is refused as CONFLICT. Without it the "
            f"{what} applies to the record as it is.",
        ),
    ]


def transition_input(record: RecordType) -> type[Any]:
    return _input(
        f"Transition{record.label}Input",
        f"Move a {record.label} to another state, with the changes that come with the step.",
        [
            *_id_and_version(record, "step"),
            ("state", state_enum(record), dataclasses.MISSING, "The state to move to."),
            (
                "changes",
                changes_input(record) | None,
                None,
                "What the step also sets (a resolution, a reason).",
            ),
        ],
    )


N = TypeVar("N")


def record_payload(record: RecordType, node_type: type[N], verb: str) -> type[MutationPayload]:
    """`<Verb><Label>Payload`: the record as the mutation left it, and why it was refused."""
    name = f"{verb.capitalize()}{record.label}Payload"

    def make() -> type[MutationPayload]:
        cls = type(
            name,
            (MutationPayload,),
            {
                "__annotations__": {"record": node_type | None},
                "record": strawberry.field(
                    default=None,
                    name=to_camel_case(to_snake_case(record.label)),
                    description=f"The {record.label} as {verb}{record.label} left it; null "
                    "when it was refused.",
                ),
            },
        )
        return cast(
            type[MutationPayload],
            strawberry.type(cls, name=name, description=f"What {verb}{record.label} did."),
        )

    made: type[MutationPayload] = _once(name, make)
    return made


def _property_fields(record: RecordType, *, creating: bool) -> list[tuple[str, Any, Any, str]]:
    state = record.states.property if record.states else None
    fields = []
    for p in record.properties:
        if p.derived or p.by_transition or p.name == state:
            continue
        needed = creating and p.required and p.default is None
        kind = value_type(record, p)
        fields.append(
            (
                to_snake_case(p.name),
                kind if needed else kind | None,
                dataclasses.MISSING if needed else None,
                p.description or p.name,
            )
        )
    return fields


def _link_fields(record: RecordType, *, creating: bool) -> list[tuple[str, Any, Any, str]]:
    fields = []
    for link in record.link_fields:
        kind: Any = list[strawberry.ID] if link.many else strawberry.ID
        needed = creating and link.required
        text = link.description or f"The {link.other} records it is linked to by {link.type}."
        if not creating:
            text += " Given, it replaces the set" + (
                " (an empty list clears it)." if link.many else "."
            )
        fields.append(
            (
                to_snake_case(link.name),
                kind if needed else kind | None,
                dataclasses.MISSING if needed else None,
                text,
            )
        )
    return fields


def create_input(record: RecordType) -> type[Any]:
    """`Create<Label>Input`: every property a caller may set, required ones non-null, and the
    link fields by id."""
    return _input(
        f"Create{record.label}Input",
        f"A new {record.label}.",
        _property_fields(record, creating=True) + _link_fields(record, creating=True),
    )


def update_input(record: RecordType) -> type[Any]:
    """`Update<Label>Input`: the record's id and version, and whatever is to change."""
    return _input(
        f"Update{record.label}Input",
        f"Changes to a {record.label}; what is not given stays as it is.",
        [
            *_id_and_version(record, "change"),
            *_property_fields(record, creating=False),
            *_link_fields(record, creating=False),
        ],
    )


def link_values(record: RecordType, given: Any) -> dict[str, list[str] | None]:
    """The link fields of a generated input that are set, each as a list of ids."""
    out: dict[str, list[str] | None] = {}
    for link in record.link_fields:
        value = getattr(given, to_snake_case(link.name), None)
        if value is None:
            continue
        out[link.name] = [str(v) for v in value] if link.many else [str(value)]
    return out


def input_values(record: RecordType, given: Any) -> dict[str, Any]:
    """The fields of a generated input that are set, by stored property name, enums as stored."""
    out: dict[str, Any] = {}
    if given is None:
        return out
    for name in record.by_name:
        value = getattr(given, to_snake_case(name), None)
        if value is None:
            continue
        if isinstance(value, list):
            value = [stored(v) if isinstance(v, enum.Enum) else v for v in value]
        elif isinstance(value, enum.Enum):
            value = stored(value)
        out[name] = value
    return out


# -- node types ----------------------------------------------------------------------------------

_SYSTEM_FIELDS = ("number", "version", "createdAt", "updatedAt", "stateChangedAt")


def node_values(record: RecordType, node_type: type[N], props: Mapping[str, Any]) -> N:
    """An instance of `node_type` from a record as read: the global id, and each of the type's
    fields that is a declared or system property, converted to its GraphQL type (enum members,
    times). The type's other fields must have defaults."""
    definition = get_object_definition(node_type, strict=True)
    values: dict[str, Any] = {"id": strawberry.ID(to_global_id(record.label, props["id"]))}
    for f in definition.fields:
        stored_name = to_camel_case(f.python_name)
        if f.python_name == "id" or f.base_resolver is not None:
            continue
        prop = record.by_name.get(stored_name)
        if prop is None and stored_name not in _SYSTEM_FIELDS:
            continue
        value = props.get(stored_name)
        if value is not None and prop is not None:
            made = value_type(record, prop)
            if isinstance(made, type) and issubclass(made, enum.Enum):
                value = made(value)
            elif prop.kind is Kind.DATETIME:
                value = to_datetime(value)
        elif stored_name in ("createdAt", "updatedAt", "stateChangedAt"):
            value = to_datetime(value)
        values[f.python_name] = value
    return node_type(**values)


@dataclasses.dataclass(frozen=True)
class RecordNode:
    """A record type served in GraphQL: its declaration, its node type, and how a record as
    read becomes one."""

    record: RecordType
    graphql_type: type[Any]
    from_props: Callable[[dict[str, Any]], Any]

    @property
    def graphql_name(self) -> str:
        return get_object_definition(self.graphql_type, strict=True).name


NODE_TYPES: dict[str, RecordNode] = {}


def register_node(
    record: RecordType,
    graphql_type: type[Any],
    from_props: Callable[[dict[str, Any]], Any] | None = None,
) -> RecordNode:
    """Let `node(id:)` and `nodes(ids:)` serve this record type; `from_props` defaults to
    `node_values`."""
    served = RecordNode(
        record,
        graphql_type,
        from_props or (lambda props: node_values(record, graphql_type, props)),
    )
    known = NODE_TYPES.get(record.label)
    if known is not None and known.graphql_type is not graphql_type:
        raise ValueError(f"{record.label} is already served as {known.graphql_name}")
    NODE_TYPES[record.label] = served
    return served


_SYSTEM_DESCRIPTIONS = {
    "number": "The number people quote; unique, never reused.",
    "version": "Bumped by every change; send it back with a change, a stale one is refused as "
    "CONFLICT.",
    "createdAt": "When the record was created.",
    "updatedAt": "When the record last changed.",
    "stateChangedAt": "When the record last changed state.",
}


def described(record: RecordType, name: str) -> Any:
    """A node type's field for a declared or system property, described as declared:
    `title: str = described(TICKET, "title")`."""
    prop = record.by_name.get(name)
    text = prop.description if prop is not None else _SYSTEM_DESCRIPTIONS[name]
    return strawberry.field(default=None, description=text or name)
