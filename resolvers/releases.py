"""Resolvers for Release Management: the kernel's fields for releases, and deploying and rolling
back as mutations of their own. The rules are `domain.releases`'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from core.access import Actor
from core.errors import ValidationFailed
from core.ids import record_id
from core.releases import RELEASE
from core.states import InvalidTransition
from domain import releases
from graphdb.write_path import Store
from resolvers.payloads import refusals_in_payload
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.common import MutationPayload
from schema.context import Info
from schema.releases import ReleaseNode


@strawberry.input(description="Which release, at which version.")
class ReleaseStepInput:
    id: strawberry.ID = strawberry.field(description="The release (global or stored id).")
    version: int | None = strawberry.field(
        default=None, description="The version you read; a stale one is refused (CONFLICT)."
    )


@strawberry.type(description="The answer to deployRelease or rollbackRelease.")
class ReleaseStepPayload(MutationPayload):
    release: ReleaseNode | None = strawberry.field(
        default=None, description="The release after, with what the step did."
    )


Step = Callable[[Store, Actor, str, int | None], dict[str, Any]]


async def _step(info: Info, input: ReleaseStepInput, step: Step) -> ReleaseStepPayload:
    ctx = info.context
    release_id = record_id(str(input.id), RELEASE.label, field="id")
    try:
        found = await ctx.run(step, ctx.store, ctx.actor, release_id, input.version)
    except InvalidTransition as refused:
        details = {k: v for k, v in refused.details.items() if k != "reason"}
        raise ValidationFailed("id", refused.reason, refused.message, **details) from refused
    return ReleaseStepPayload(release=ReleaseNode.from_props(found))


@strawberry.type
class ReleaseQuery:
    release = record_field(RELEASE, ReleaseNode)
    releases = connection_field(
        RELEASE, ReleaseNode, description="Releases, sorted by number, planned or deployed time."
    )


@strawberry.type
class ReleaseMutation:
    create_release = create_field(
        RELEASE,
        ReleaseNode,
        description="Plan a release: its version, the changes it ships, the catalogue entries "
        "it updates.",
    )
    update_release = update_field(RELEASE, ReleaseNode)
    transition_release = transition_field(
        RELEASE,
        ReleaseNode,
        transition=releases.transition_release,
        description="Move a release along its states; to DEPLOYED deploys it and to "
        "ROLLED_BACK rolls it back, as deployRelease and rollbackRelease do.",
    )

    @strawberry.mutation(
        description="Deploy a built release in one transaction: its changes implemented, its "
        "catalogue entries and the modified CIs at its version, the known errors it fixes "
        "fixed, their problems and incidents resolved. A refusal writes nothing."
    )
    @refusals_in_payload(ReleaseStepPayload)
    async def deploy_release(
        self,
        info: Info,
        input: Annotated[ReleaseStepInput, strawberry.argument(description="The release.")],
    ) -> ReleaseStepPayload:
        return await _step(info, input, releases.deploy_release)

    @strawberry.mutation(
        description="Roll a deployed release back in one transaction: the catalogue entries "
        "and CI versions restored, its changes failed, what it resolved reopened."
    )
    @refusals_in_payload(ReleaseStepPayload)
    async def rollback_release(
        self,
        info: Info,
        input: Annotated[ReleaseStepInput, strawberry.argument(description="The release.")],
    ) -> ReleaseStepPayload:
        return await _step(info, input, releases.rollback_release)
