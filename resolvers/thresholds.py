"""Resolvers for thresholds: one by id or number, the list, create and update with the domain's
checks (`domain.availability.thresholds`). Writing one needs MANAGE_SERVICE_LEVELS: thresholds
are set by agreements, and agreements are managers' business."""

from __future__ import annotations

import strawberry

from core.access import Permission
from core.events import THRESHOLD
from domain.availability.thresholds import THRESHOLD_RULES, update_threshold
from resolvers.records import connection_field, create_field, record_field, update_field
from schema.thresholds import ThresholdNode


@strawberry.type
class ThresholdQuery:
    threshold = record_field(THRESHOLD, ThresholdNode)
    thresholds = connection_field(
        THRESHOLD,
        ThresholdNode,
        description="Thresholds, filtered and sorted; disabled ones too unless filtered out.",
        default_order="name",
    )


@strawberry.type
class ThresholdMutation:
    create_threshold = create_field(
        THRESHOLD,
        ThresholdNode,
        create=THRESHOLD_RULES.create,
        permission=Permission.MANAGE_SERVICE_LEVELS,
        description="Create a threshold set by one agreement (sla or ola) on CIs (cis) or on "
        "every CI of a class a Service depends on (service with ciClass); the clear value on "
        "the clearing side of the value. Nothing is written when it is refused.",
    )
    update_threshold = update_field(
        THRESHOLD,
        ThresholdNode,
        update=update_threshold,
        permission=Permission.MANAGE_SERVICE_LEVELS,
        description="Change a threshold: what is given changes, a given link field replaces its "
        "set, and an agreement given (sla or ola) replaces the one that set it; the threshold as "
        "changed obeys the same rules as a new one.",
    )
