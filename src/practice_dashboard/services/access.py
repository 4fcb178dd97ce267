"""The single scoping point: which clients a caller may see, and which they may change.

Every query that touches client data starts from `visible_clients()` (or `writable_clients()`).
Practitioners see their own clients; supervisors also see their supervisees' clients, read-only;
admins manage accounts and see no clinical data (minimum necessary). Outside scope is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, false, select

from practice_dashboard.db import DbSession, kept_statement
from practice_dashboard.errors import Forbidden, NotFound
from practice_dashboard.models import Client, Supervision, User
from practice_dashboard.models.enums import Role

R = TypeVar("R")


def sees_no_clients(user: User) -> bool:
    """Admins (minimum necessary) and inactive accounts see no client at all."""
    return user.role == Role.ADMIN or not user.is_active


def supervisee_ids(supervisor: Any) -> Select[uuid.UUID]:
    """The ids of the people `supervisor` (a user id, or a bound parameter standing for one)
    supervises, for subqueries."""
    return select(Supervision.supervisee_id).where(Supervision.supervisor_id == supervisor)


def _visible_to(viewer: Any, *, sees_none: bool) -> ColumnElement[bool]:
    """Clients of `viewer` (a user id, or a bound parameter standing for one) or of their
    supervisees; none for an admin or an inactive account."""
    if sees_none:
        return false()
    condition: ColumnElement[bool] = (Client.practitioner_id == viewer) | (
        Client.practitioner_id.in_(supervisee_ids(viewer))
    )
    return condition


def _visible_condition(user: User) -> ColumnElement[bool]:
    return _visible_to(user.id, sees_none=sees_no_clients(user))


def visible_clients(user: User, *, include_archived: bool = False) -> Select[Client]:
    """The clients `user` may read, as a statement to refine."""
    stmt = select(Client).where(_visible_condition(user))
    if not include_archived:
        stmt = stmt.where(Client.archived_at.is_(None))
    return stmt


#: The bound parameter through which a kept statement (`db.kept_statement`) names its caller.
VIEWER: Final = "viewer_id"


def visible_client_ids(user: User, *, bound: bool = False) -> Select[uuid.UUID]:
    """The ids of every client `user` may read (archived ones included), for subqueries.

    With `bound`, the caller is the parameter `VIEWER`, bound when the statement runs
    (``{VIEWER: user.id}``): one statement for every caller whose role sees clients, to keep
    once built. Missing, the statement fails rather than read anyone's clients."""
    viewer: Any = bindparam(VIEWER) if bound else user.id
    return select(Client.id).where(_visible_to(viewer, sees_none=sees_no_clients(user)))


def can_write(user: User, client: Client) -> bool:
    """Only the owning practitioner changes a client's record; supervision is read-only."""
    return user.is_active and user.role != Role.ADMIN and client.practitioner_id == user.id


def get_visible_client(
    db: DbSession, user: User, client_id: uuid.UUID, *, for_write: bool = False
) -> Client:
    """The client, or NotFound when the caller may not see it (never reveal that it exists)."""
    # The same statement for every caller and client (kept once built): both are bound.
    sees_none = sees_no_clients(user)
    statement = kept_statement(
        ("visible client", sees_none),
        lambda: select(Client).where(
            _visible_to(bindparam(VIEWER), sees_none=sees_none),
            Client.id == bindparam("client_id"),
        ),
    )
    client = db.scalars(statement, {VIEWER: user.id, "client_id": client_id}).one_or_none()
    if client is None:
        raise NotFound("Client not found")
    if for_write:
        require_write(user, client)
    return client


def require_write(user: User, client: Client) -> None:
    if not can_write(user, client):
        # The caller can already see this client (a supervisor), so 403 reveals nothing new.
        raise Forbidden(
            "Supervision gives read-only access; only the client's practitioner can change it"
        )


def require_owner_copy(user: User, client: Client) -> None:
    """Downloads from the pages copy the record out: only for the owning practitioner."""
    if not can_write(user, client):
        raise Forbidden("Only the client's practitioner can download a copy of the record")


def get_visible_child(
    db: DbSession,
    user: User,
    model: type[R],
    record_id: uuid.UUID,
    *,
    for_write: bool = False,
) -> tuple[R, Client]:
    """A record that belongs to a client (session, episode, …) with its client, scoped."""
    table: Any = model  # every client-scoped record has `id` and `client_id`
    row = db.execute(
        select(model, Client)
        .join(Client, Client.id == table.client_id)
        .where(table.id == record_id, Client.id.in_(visible_client_ids(user)))
    ).one_or_none()
    if row is None:
        raise NotFound(f"{model.__name__} not found")
    record, client = row
    if for_write:
        require_write(user, client)
    return record, client
