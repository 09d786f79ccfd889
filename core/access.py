"""Who may do what.

Roles follow the Service Desk's usual split: viewers read, agents work records, managers also
approve and run the catalogue, automation feeds monitoring and CMDB imports, admins do everything.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from core.errors import Forbidden, Unauthenticated, ValidationFailed


class Role(enum.StrEnum):
    VIEWER = "viewer"
    AGENT = "agent"
    MANAGER = "manager"
    AUTOMATION = "automation"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    READ = "read"
    WRITE_CMDB = "write_cmdb"
    WORK_RECORDS = "work_records"
    MANAGE_SERVICE_LEVELS = "manage_service_levels"
    ADMINISTER = "administer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.AGENT: frozenset({Permission.READ, Permission.WORK_RECORDS, Permission.WRITE_CMDB}),
    Role.MANAGER: frozenset(
        {
            Permission.READ,
            Permission.WORK_RECORDS,
            Permission.WRITE_CMDB,
            Permission.MANAGE_SERVICE_LEVELS,
        }
    ),
    Role.AUTOMATION: frozenset({Permission.READ, Permission.WRITE_CMDB, Permission.WORK_RECORDS}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Actor:
    """The identity every read and write is done as; audit entries name it."""

    id: str
    name: str
    role: Role | None  # None: anonymous reader
    person_id: str | None = None  # the Person the token speaks for, whose queue is theirs

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.role is None:
            return frozenset({Permission.READ})
        return ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if self.role is None and permission is not Permission.READ:
            raise Unauthenticated("this operation needs an API token (Authorization: Bearer …)")
        if permission not in self.permissions:
            role = self.role.value if self.role else "anonymous"
            raise Forbidden(
                f"role {role!r} may not {permission.value.replace('_', ' ')}",
                permission=permission.value,
                role=role,
            )


ANONYMOUS = Actor(id="anonymous", name="anonymous", role=None)
SYSTEM = Actor(id="system", name="system", role=Role.ADMIN)

TOKEN_PREFIX = "itsm_"  # noqa: S105 - a prefix, not a secret


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            "role", "unknown_role", f"unknown role {value!r}; one of: {allowed}"
        ) from None


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast digest is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
