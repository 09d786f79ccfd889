"""Release Management's record: a release (REL) ships a set of changes to a service and updates
the Service Catalog to say so.

A release carries the catalogue change it makes: `releaseVersion` is the service's new version
string, written on deployment to each catalogue entry it updates (`offeringVersion`) and to the
`version` attribute of every CI its changes modify; `offering`, when given, replaces the entries'
offering text. What those records said before is kept on the release (`deployment`, JSON), with
what the deployment closed, so that a rollback restores and reopens exactly that.
"""

from __future__ import annotations

import enum

from core import (
    changes,  # noqa: F401 - a release includes changes: declared first
    service_level,  # noqa: F401 - and updates catalogue entries: declared first too
)
from core.access import Role
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition

PROCESS = "Release Management"
WORKERS = frozenset({Role.AGENT, Role.MANAGER, Role.AUTOMATION, Role.ADMIN})


class ReleaseState(enum.StrEnum):
    PLANNED = "planned"
    BUILT = "built"
    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


describe(
    ReleaseState,
    "Where a release stands.",
    {
        ReleaseState.PLANNED: "Its changes and catalogue update are being gathered.",
        ReleaseState.BUILT: "Built and tested: ready to deploy.",
        ReleaseState.DEPLOYED: "Live: its changes are implemented, the catalogue updated, what "
        "it fixed resolved.",
        ReleaseState.ROLLED_BACK: "Undone: the catalogue and CI versions restored, its changes "
        "failed, what it had resolved reopened. May be built again.",
        ReleaseState.CANCELLED: "Withdrawn before it was deployed.",
    },
)

_P, _B, _D, _R, _C = (s.value for s in ReleaseState)

RELEASE_STATES = StateMachine(
    initial=_P,
    states=tuple(s.value for s in ReleaseState),
    transitions=(
        Transition(
            "build", frozenset({_P, _R}), _B, WORKERS, description="Built (again) and tested."
        ),
        Transition(
            "deploy",
            frozenset({_B}),
            _D,
            WORKERS,
            description="Put it live, in one transaction: needs changes and catalogue entries.",
        ),
        Transition(
            "roll_back",
            frozenset({_D}),
            _R,
            WORKERS,
            description="Undo the deployment, in one transaction.",
        ),
        Transition(
            "cancel", frozenset({_P, _B}), _C, WORKERS, description="Withdrawn before deploying."
        ),
    ),
    final=frozenset({_C}),
)

RELEASE = RecordType(
    "Release",
    "REL",
    PROCESS,
    "A coordinated delivery of changes to a service, with the catalogue update it brings.",
    properties=(
        Prop("title", Kind.STRING, "What the release is.", required=True, fulltext=True),
        Prop("description", Kind.TEXT, "What it delivers and why.", fulltext=True),
        Prop(
            "releaseVersion",
            Kind.STRING,
            "The service's new version, e.g. 2026.12: written on deployment to its catalogue "
            "entries' offeringVersion and to the version attribute of the CIs its changes modify.",
            required=True,
            indexed=True,
            max_length=50,
        ),
        Prop(
            "offering",
            Kind.TEXT,
            "When given, the catalogue entries' new offering text (features, channels, hours).",
        ),
        Prop("state", Kind.STRING, "Where it stands.", values=ReleaseState, indexed=True),
        Prop("plannedStart", Kind.DATETIME, "When deployment is planned to begin.", sortable=True),
        Prop("plannedEnd", Kind.DATETIME, "When deployment is planned to end.", sortable=True),
        Prop("builtAt", Kind.DATETIME, "When it was last built.", derived=True),
        Prop(
            "deployedAt", Kind.DATETIME, "When it was last deployed.", derived=True, sortable=True
        ),
        Prop("rolledBackAt", Kind.DATETIME, "When it was last rolled back.", derived=True),
        Prop(
            "deployment",
            Kind.TEXT,
            "The last deployment as JSON: the catalogue entries and CI versions before it, and "
            "the changes, known errors, problems and incidents it closed or told.",
            derived=True,
        ),
    ),
    states=RELEASE_STATES,
    link_fields=(
        LinkField("changes", "INCLUDES", "Change", description="The changes it ships."),
        LinkField(
            "catalogEntries",
            "UPDATES",
            "CatalogEntry",
            description="The catalogue entries it updates.",
        ),
    ),
)

declare(RELEASE)
