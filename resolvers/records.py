"""Fields any declared record type gets from its declaration: its paged, filtered, sorted list,
and a mutation that moves a record along its state machine. A process's resolver module makes
them with one call each; the rules stay in `domain.records` and the process's domain package.
"""

# Without postponed annotations: the resolvers are annotated with types made at run time
# (`schema.records`), which Strawberry must see as objects.

import inspect
from collections.abc import Callable
from typing import Annotated, Any, cast

import strawberry
from strawberry.types.field import StrawberryField

from core.access import Permission
from core.errors import ValidationFailed
from core.ids import record_id
from core.records import RecordType
from core.states import GuardRefused, InvalidTransition
from domain import records
from resolvers.payloads import refusals_in_payload
from schema.context import Info
from schema.paging import (
    After,
    Before,
    Connection,
    First,
    Last,
    connection_of_rows,
    page_request,
    wants_total,
)
from schema.records import (
    SortDirection,
    create_input,
    filter_input,
    input_values,
    link_values,
    order_input,
    record_payload,
    register_node,
    stored,
    transition_input,
    update_input,
)

DEFAULT_PAGE = 50

FromProps = Callable[[dict[str, Any]], Any]
# A process's domain function that writes a record, called as the kernel's own in
# `domain.records` (create, update, transition) is.
Creator = Callable[..., dict[str, Any]]


def connection_field(
    record: RecordType,
    node_type: type[Any],
    from_props: FromProps | None = None,
    *,
    description: str,
    default_order: str = "createdAt",
    default_page: int = DEFAULT_PAGE,
) -> StrawberryField:
    """A root field listing `record`s: `filter`, `orderBy`, `first/after/last/before`, answering
    `Connection[node_type]`. The node type is registered for `node(id:)` as well."""
    served = register_node(record, node_type, from_props)
    filter_type = filter_input(record)
    order_type = order_input(record, default_order)

    async def resolve(
        info: Info,
        filter: Any = None,
        order_by: Any = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Any:
        ctx = info.context
        request = page_request(
            first=first, after=after, last=last, before=before, default=default_page, key_size=2
        )
        order = order_by or order_type()
        search = records.RecordSearch(
            filters=input_values(record, filter),
            text=getattr(filter, "search", None),
            order=stored(order.field),
            descending=order.direction is SortDirection.DESC,
            after=request.after_key,
            before=request.before_key,
            backward=request.backward,
            limit=request.size + 1,
            count=wants_total(info),
        )
        rows, total = await ctx.run(records.page, ctx.store, ctx.actor, record, search)
        loader = ctx.loaders.record(record)

        def node(row: dict[str, Any]) -> Any:
            loader.prime(row["id"], row)
            return served.from_props(row)

        return connection_of_rows(request, rows, total, node)

    resolve.__annotations__ = {
        "info": Info,
        "order_by": Annotated[
            order_type | None,
            strawberry.argument(
                description=f"The sort order; by {default_order}, ascending, when not given."
            ),
        ],
        "first": First,
        "after": After,
        "last": Last,
        "before": Before,
        "return": Connection[node_type],  # type: ignore[valid-type]
    }
    if filter_type is not None:
        resolve.__annotations__["filter"] = Annotated[
            filter_type | None,
            strawberry.argument(
                description="Conditions the records must meet; all records when not given."
            ),
        ]
    else:
        # Strawberry reads the arguments from the signature: a type with nothing to filter on
        # has no `filter` argument (GraphQL has no empty input types).
        signature = inspect.signature(resolve)
        resolve.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "filter"]
        )
    field: StrawberryField = strawberry.field(resolver=resolve, description=description)
    return field


def record_field(
    record: RecordType,
    node_type: type[Any],
    from_props: FromProps | None = None,
    *,
    description: str | None = None,
) -> StrawberryField:
    """A root field for one `record` by global (or stored) id or by the number people quote;
    null when there is none."""
    served = register_node(record, node_type, from_props)

    async def resolve(info: Info, id: Any = None, number: Any = None) -> Any:
        ctx = info.context
        if (id is None) == (number is None):
            raise ValidationFailed("id", "id_or_number", "give either id or number")
        loader = ctx.loaders.record(record)
        if id is not None:
            props = await loader.load(record_id(str(id), record.label, field="id"))
        else:
            props = await ctx.run(records.by_number, ctx.store, ctx.actor, record, number)
            if props is not None:
                loader.prime(props["id"], props)
        return served.from_props(props) if props else None

    resolve.__annotations__ = {
        "info": Info,
        "id": Annotated[
            strawberry.ID | None,
            strawberry.argument(description=f"The {record.label}'s global or stored id."),
        ],
        "number": Annotated[
            str | None,
            strawberry.argument(
                description=f"The number people quote, e.g. {record.number_prefix}0000001."
            ),
        ],
        "return": node_type | None,
    }
    field: StrawberryField = strawberry.field(
        resolver=resolve,
        description=description
        or f"One {record.label} by id or by number (give one of them); null when there is none.",
    )
    return field


def _refusal(field: str, refused: InvalidTransition | GuardRefused) -> ValidationFailed:
    details = {k: v for k, v in refused.details.items() if k != "reason"}
    return ValidationFailed(field, refused.reason, refused.message, **details)


def transition_field(
    record: RecordType,
    node_type: type[Any],
    from_props: FromProps | None = None,
    *,
    description: str | None = None,
    permission: Permission = Permission.WORK_RECORDS,
    transition: Creator | None = None,
    also: records.Also | None = None,
) -> StrawberryField:
    """A mutation `transition<Label>(input: {id, version, state, changes})`: the record after the
    step, or `userErrors`; an invalid step names the current state and the allowed ones.
    `transition` is the process's domain function for steps that write more than the record
    (a publish that stores a revision), called as `domain.records.transition` is (which it
    defaults to); `also` runs after the step, in the same transaction."""
    step = transition or records.transition
    extra = {"also": also} if also is not None else {}

    def write(info: Info, input: Any) -> dict[str, Any]:
        ctx = info.context
        try:
            return step(
                ctx.store,
                ctx.actor,
                record,
                record_id(str(input.id), record.label, field="id"),
                stored(input.state),
                version=input.version,
                changes=input_values(record, input.changes),
                permission=permission,
                **extra,
            )
        # The state machine's refusals are the input's fault: userErrors at the field to blame.
        except InvalidTransition as refused:
            raise _refusal("state", refused) from refused
        except GuardRefused as refused:
            raise _refusal(f"changes.{refused.field}", refused) from refused

    return _mutation(
        record,
        node_type,
        "transition",
        transition_input(record),
        write,
        from_props,
        description
        or f"Move a {record.label} to another state through its state machine, with the "
        "changes that come with the step; nothing is written when it is refused.",
    )


def _mutation(
    record: RecordType,
    node_type: type[Any],
    verb: str,
    input_type: type[Any],
    write: Callable[[Info, Any], dict[str, Any]],
    from_props: FromProps | None,
    description: str,
) -> StrawberryField:
    served = register_node(record, node_type, from_props)
    payload = record_payload(record, node_type, verb)

    async def resolve(info: Info, input: Any) -> Any:
        after = await info.context.run(write, info, input)
        return payload(record=served.from_props(after))  # type: ignore[call-arg]

    resolve.__annotations__ = {
        "info": Info,
        "input": Annotated[input_type, strawberry.argument(description="What to do.")],
        "return": payload,
    }
    return cast(
        StrawberryField,
        strawberry.field(
            resolver=refusals_in_payload(payload)(resolve),
            name=f"{verb}{record.label}",
            description=description,
        ),
    )


def create_field(
    record: RecordType,
    node_type: type[Any],
    from_props: FromProps | None = None,
    *,
    create: Creator | None = None,
    also: records.Also | None = None,
    permission: Permission = Permission.WORK_RECORDS,
    description: str | None = None,
) -> StrawberryField:
    """A mutation `create<Label>(input: Create<Label>Input!)`: the new record, or `userErrors`
    naming the field; nothing is written when it is refused. `create` is the process's domain
    function, called as `domain.records.create` is (which it defaults to); `also` is the
    process's own step after the kernel's, in the same transaction (risk, conflicts)."""
    make = create or records.create
    extra = {"also": also} if also is not None else {}

    def write(info: Info, input: Any) -> dict[str, Any]:
        ctx = info.context
        return make(
            ctx.store,
            ctx.actor,
            record,
            input_values(record, input),
            link_values(record, input),
            permission=permission,
            **extra,
        )

    return _mutation(
        record,
        node_type,
        "create",
        create_input(record),
        write,
        from_props,
        description or f"Create a {record.label}; nothing is written when it is refused.",
    )


def update_field(
    record: RecordType,
    node_type: type[Any],
    from_props: FromProps | None = None,
    *,
    update: Creator | None = None,
    also: records.Also | None = None,
    permission: Permission = Permission.WORK_RECORDS,
    description: str | None = None,
) -> StrawberryField:
    """A mutation `update<Label>(input: Update<Label>Input!)`: the given properties change and a
    given link field replaces its set; `update` is the process's domain function, called as
    `domain.records.update` is (which it defaults to); `also` runs after it, in the same
    transaction, on the record as changed."""
    change = update or records.update
    extra = {"also": also} if also is not None else {}

    def write(info: Info, input: Any) -> dict[str, Any]:
        ctx = info.context
        return change(
            ctx.store,
            ctx.actor,
            record,
            record_id(str(input.id), record.label, field="id"),
            input_values(record, input),
            link_values(record, input),
            version=input.version,
            permission=permission,
            **extra,
        )

    return _mutation(
        record,
        node_type,
        "update",
        update_input(record),
        write,
        from_props,
        description
        or f"Change a {record.label}: what is given changes, the rest stays; nothing is "
        "written when it is refused.",
    )
