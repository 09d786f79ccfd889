"""API tokens: how scripts and people identify themselves to the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.access import Actor, Permission, Role, new_token_secret, parse_role, token_digest
from core.errors import NotFound
from graphdb.cypher import tokens as token_cypher
from graphdb.write_path import Store, UnitOfWork


@dataclass(frozen=True)
class IssuedToken:
    secret: str  # shown once; only its digest is stored
    id: str
    role: Role
    name: str
    person_id: str | None = None


def issue_token(
    store: Store, issuer: Actor, role: str, name: str, *, person: str | None = None
) -> IssuedToken:
    """A new token; `person` (a Person's number or stored id) is whom it speaks for."""
    checked = parse_role(role)
    secret = new_token_secret()

    def work(uow: UnitOfWork) -> dict[str, Any]:
        person_id = None
        if person is not None:
            person_id = token_cypher.person_id(uow.tx, person.strip())
            if person_id is None:
                raise NotFound("Person", person, field="person")
        return uow.create(
            "ApiToken",
            {
                "digest": token_digest(secret),
                "role": checked.value,
                "name": name,
                "personId": person_id,
            },
        )

    record = store.write(issuer, work)
    return IssuedToken(
        secret=secret, id=record["id"], role=checked, name=name, person_id=record.get("personId")
    )


def actor_for_token(store: Store, secret: str) -> Actor | None:
    record = store.read(lambda tx: token_cypher.by_digest(tx, token_digest(secret)))
    if record is None:
        return None
    return Actor(
        id=record["id"],
        name=record["name"],
        role=Role(record["role"]),
        person_id=record.get("personId"),
    )


def revoke_token(store: Store, actor: Actor, token_id: str) -> None:
    """A revoked token stops working at once here (and within the token cache time elsewhere)."""
    actor.require(Permission.ADMINISTER)
    store.write(
        actor,
        lambda uow: uow.update("ApiToken", token_id, {"revoked": True}, expected_version=None),
    )


def list_tokens(store: Store) -> list[dict[str, Any]]:
    return store.read(token_cypher.listing)
