"""GraphQL execution that completes plain fields without the per-field machinery.

An impact answer or a CI list is hundreds of objects, each a handful of values read straight off
an attribute (`depth`, `ci`, `id`, `name`). graphql-core gives every one of them the full field
treatment: a resolve-info object, argument coercion, awaitable checks and two levels of value
completion. That was most of the time a large answer spent in GraphQL.

A field is plain when its Strawberry definition says it is an attribute read and nothing else: no
resolver function, no permission classes, no field extensions, no directives, the default
`getattr` resolver, no arguments; when no resolve middleware is installed; and when its type is a
scalar, an enum, or an object type without a type check of its own. Strawberry's own `_is_default`
mark is not enough: it is also set on fields whose permission classes or extensions wrap the read,
and skipping those would return a value that a permission denies.
A plain scalar is read and coerced directly; a plain object goes straight to its sub-fields.
Anything unusual (a null where the schema forbids one, a value the scalar refuses, an exception
from the read) is handed to the general path, which reads the attribute again and reports it
exactly as before; an attribute read has no side effects, so reading it twice is harmless.
Errors raised below a plain object are located and nulled by graphql-core's own handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from operator import attrgetter
from typing import Any, TypeGuard
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema.errors import tag_request_errors

_GENERAL = object()  # the plain read gave up: take the general path


class _PlainField:
    __slots__ = ("coerce", "field_type", "nullable", "object_type", "read")

    def __init__(
        self,
        read: Callable[[Any], Any],
        field_type: GraphQLOutputType,
        named: GraphQLLeafType | GraphQLObjectType,
    ):
        self.read = read
        self.field_type = field_type
        self.nullable = not isinstance(field_type, GraphQLNonNull)
        self.object_type = named if isinstance(named, GraphQLObjectType) else None
        self.coerce = None if isinstance(named, GraphQLObjectType) else named.coerce_output_value


_Step = tuple[str, FieldDetailsList, _PlainField | None]


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by the identity of graphql-core's memoised field set, which is the same object
        # for every item of a list; the set is kept alive with its plan so its id stays unique.
        self._plans: dict[int, tuple[GroupedFieldSet, list[_Step] | None]] = {}
        # A resolve middleware must see every field, so with one installed nothing is plain.
        middleware = self.middleware_manager
        self._shortcuts = middleware is None or not middleware.middlewares

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Any:
        built = super().build(*args, **kwargs)
        if isinstance(built, list):  # the variables were refused before any field ran
            tag_request_errors(built)
        return built

    def _plan(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[_Step] | None:
        if not self._shortcuts:
            return None
        plain_fields = _plain_fields(parent_type)
        steps = [
            (name, fields, plain_fields.get(fields[0].node.name.value))
            for name, fields in grouped.items()
        ]
        return steps if any(plain is not None for _, _, plain in steps) else None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        entry = self._plans.get(id(grouped_field_set))
        if entry is None:
            entry = (grouped_field_set, self._plan(parent_type, grouped_field_set))
            self._plans[id(grouped_field_set)] = entry
        steps = entry[1]
        if steps is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # graphql-core's own loop, with the plain completion tried first for each field.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for name, fields, plain in steps:
                if plain is None:
                    result = _GENERAL
                elif plain.object_type is None:
                    result = _plain_scalar(plain, source_value)
                else:
                    result = self._plain_object_field(
                        plain, source_value, fields, path, name, parent_type, position_context
                    )
                if result is _GENERAL:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        fields,
                        Path(path, name, parent_type.name),
                        position_context,
                    )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _awaited(results, awaitable_fields)

    def _plain_object_field(
        self,
        plain: _PlainField,
        source: Any,
        fields: FieldDetailsList,
        path: Path | None,
        name: str,
        parent_type: GraphQLObjectType,
        position_context: Any,
    ) -> Any:
        try:
            value = plain.read(source)
        except Exception:
            return _GENERAL
        if value is None:
            return None if plain.nullable else _GENERAL
        if value is Undefined or isinstance(value, Exception) or self.is_awaitable(value):
            return _GENERAL
        field_path = Path(path, name, parent_type.name)
        try:
            completed = self.collect_and_execute_subfields(
                plain.object_type,  # type: ignore[arg-type]
                fields,
                field_path,
                value,
                position_context,
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plain.field_type, fields, field_path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, plain.field_type, fields, field_path)
        return completed

    async def _completed_later(
        self,
        completed: Awaitable[Any],
        field_type: GraphQLOutputType,
        fields: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, fields, path)
            return None

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        # Each item of a list of objects (the affected CIs of an impact answer) goes straight to
        # its sub-fields: they always complete to a mapping, so the non-null check cannot fail.
        object_type = _plain_object(return_type) if self._shortcuts else None
        if (
            object_type is not None
            and result is not None
            and result is not Undefined
            and not isinstance(result, Exception)
        ):
            return self.collect_and_execute_subfields(
                object_type, field_details_list, path, result, position_context
            )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )


# What is plain depends on the schema alone, so it is worked out once per type, not per request.
_PLAIN_FIELDS: WeakKeyDictionary[GraphQLObjectType, dict[str, _PlainField]] = WeakKeyDictionary()
_PLAIN_OBJECTS: WeakKeyDictionary[GraphQLOutputType, GraphQLObjectType | None] = WeakKeyDictionary()


def _plain_fields(parent_type: GraphQLObjectType) -> dict[str, _PlainField]:
    found = _PLAIN_FIELDS.get(parent_type)
    if found is None:
        found = {}
        for name, field_def in parent_type.fields.items():
            plain = _plain_field(field_def)
            if plain is not None:
                found[name] = plain
        _PLAIN_FIELDS[parent_type] = found
    return found


def _plain_field(field_def: GraphQLField) -> _PlainField | None:
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if field_def.args or field_def.resolve is None or not _is_attribute_read(definition):
        return None
    named = _named(field_def.type)
    if not is_leaf_type(named) and _plain_object(field_def.type) is None:
        return None
    read = attrgetter(definition.python_name)
    return _PlainField(read, field_def.type, named)  # type: ignore[arg-type]


def _is_attribute_read(definition: object) -> TypeGuard[StrawberryField]:
    return (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and not definition.permission_classes
        and not definition.extensions
        and not definition.directives
        and not definition.arguments
        and definition.default_resolver is getattr
    )


def _named(field_type: GraphQLOutputType) -> GraphQLOutputType:
    return field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type


def _plain_object(field_type: GraphQLOutputType) -> GraphQLObjectType | None:
    try:
        return _PLAIN_OBJECTS[field_type]
    except KeyError:
        named = _named(field_type)
        plain = named if isinstance(named, GraphQLObjectType) and named.is_type_of is None else None
        _PLAIN_OBJECTS[field_type] = plain
        return plain


def _plain_scalar(plain: _PlainField, source: Any) -> Any:
    try:
        value = plain.read(source)
        if value is None:
            return None if plain.nullable else _GENERAL
        coerced = plain.coerce(value)  # type: ignore[misc]
    except Exception:
        return _GENERAL
    if coerced is None or coerced is Undefined:
        return _GENERAL
    return coerced


async def _awaited(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    if len(awaitable_fields) == 1:
        name = awaitable_fields[0]
        results[name] = await results[name]
    else:
        awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results
