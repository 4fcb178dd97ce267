"""Accounts (admins only): list, create, edit and deactivate accounts; supervision links.

Admins see no clinical data here: names, e-mails, roles and links only. Every change goes
through services.user, which audits it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func, select

from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.errors import Conflict, Invalid, NotFound
from practice_dashboard.models import Supervision, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.routing import Router
from practice_dashboard.schemas.user import SupervisionCreate, UserCreate, UserUpdate
from practice_dashboard.services.accounts import mfa
from practice_dashboard.services.accounts import user as user_service
from practice_dashboard.web.deps import AdminLogin, CsrfLogin, PageContext, WebActor
from practice_dashboard.web.forms.registry import ACCOUNT_FIELDS, ACCOUNT_MESSAGES
from practice_dashboard.web.templating import templates

router = Router(prefix="/admin")

ROLE_WORDS: Final[dict[str, str]] = {
    "therapist": "Therapist",
    "coach": "Coach",
    "supervisor": "Supervisor",
    "admin": "Admin",
}
NOTICES: Final[dict[str, str]] = {
    "linked": "Supervision link added.",
    "unlinked": "Supervision link removed.",
    "saved": "Changes saved.",
}
# One message per field, its numbers read from the schema (web/forms/registry.py).
_MESSAGES = ACCOUNT_MESSAGES
FormStr = Annotated[str, Form()]


def _message(field: str, error: ErrorDetails) -> str:
    if field == "password":
        if error["type"] == "string_too_long":
            return _MESSAGES["password_too_long"]
        return _MESSAGES["password"]
    return _MESSAGES.get(field, str(error["msg"]).removeprefix("Value error, "))


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        errors.setdefault(field, _message(field, error))
    return errors


def _invalid_errors(exc: Invalid, fields: dict[str, str]) -> dict[str, str]:
    """A service's 422 problems by form field (`fields` renames service names to form names)."""
    errors: dict[str, str] = {}
    for problem in exc.problems:
        name = str(problem["loc"][-1])
        message = str(problem["msg"])
        errors.setdefault(fields.get(name, name), message[:1].upper() + message[1:] + ".")
    return errors


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _users_context(db: DbDep) -> dict[str, Any]:
    """Every account, every supervision link and who has two-factor authentication: three
    queries, whatever the numbers."""
    users = list(db.scalars(select(User).order_by(func.lower(User.full_name), User.id)))
    by_id = {u.id: u for u in users}
    links = [
        {"supervisor": by_id[sup], "supervisee": by_id[sub]}
        for sup, sub in db.execute(
            select(Supervision.supervisor_id, Supervision.supervisee_id).order_by(
                Supervision.created_at, Supervision.id
            )
        )
        if sup in by_id and sub in by_id
    ]
    supervises: dict[uuid.UUID, list[User]] = {}
    for link in links:
        supervises.setdefault(link["supervisor"].id, []).append(link["supervisee"])
    return {
        "users": users,
        "mfa_enrolled": mfa.enrolled_user_ids(db),
        "links": links,
        "supervises": supervises,
        "supervisors": [u for u in users if u.role == Role.SUPERVISOR and u.is_active],
        "practitioners": [
            u for u in users if u.role in user_service.PRACTITIONER_ROLES and u.is_active
        ],
    }


def _users_page(
    context: dict[str, Any], db: DbDep, *, status_code: int = 200, **extra: Any
) -> Response:
    values: dict[str, Any] = {
        **context,
        "nav": "admin",
        "roles": ROLE_WORDS,
        "fields": ACCOUNT_FIELDS,
        "form": {"email": "", "full_name": "", "role": "therapist"},
        "errors": {},
        "link_form": {"supervisor_id": "", "supervisee_id": ""},
        "link_errors": {},
        **_users_context(db),
    }
    values.update(extra)
    return templates.TemplateResponse(
        context["request"], "admin_users.html", values, status_code=status_code
    )


def _to_list(request: Request, notice: str | None = None, **params: str) -> RedirectResponse:
    url = request.app.url_path_for("admin_users")
    query = urlencode({"done": notice} if notice else params)
    return RedirectResponse(f"{url}?{query}" if query else str(url), status_code=303)


@router.get("/users", name="admin_users")
def users_page(
    context: PageContext,
    _admin: AdminLogin,
    db: DbDep,
    done: str | None = None,
    created: str | None = None,
) -> Response:
    """All accounts with role and state, the new-account form and supervision links."""
    notice = NOTICES.get(done or "")
    created_id = _parse_uuid(created or "")
    return _users_page(context, db, notice=notice, created_id=created_id)


@router.post("/users")
def create_account(
    context: PageContext,
    _login: CsrfLogin,
    _admin: AdminLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    email: FormStr = "",
    full_name: FormStr = "",
    role: FormStr = "",
    password: FormStr = "",
) -> Response:
    """Create an account; problems are shown next to their fields, the password never echoed."""
    form = {"email": email, "full_name": full_name, "role": role}
    try:
        data = UserCreate.model_validate(
            {"email": email, "full_name": full_name, "role": role, "password": password}
        )
        user = user_service.create_user(db, settings, data=data, actor=actor)
    except ValidationError as exc:
        errors = _validation_errors(exc)
    except Invalid as exc:
        errors = _invalid_errors(exc, {})
    else:
        return _to_list(context["request"], created=str(user.id))
    return _users_page(context, db, status_code=422, form=form, errors=errors)


def _edit_page(
    context: dict[str, Any],
    account: User,
    *,
    db: DbDep,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
    saved: bool = False,
    mfa_reset: bool = False,
    status_code: int = 200,
) -> Response:
    values = form or {
        "full_name": account.full_name,
        "role": account.role.value,
        "is_active": account.is_active,
        "version": str(account.version),
    }
    return templates.TemplateResponse(
        context["request"],
        "admin_user_edit.html",
        {
            **context,
            "nav": "admin",
            "roles": ROLE_WORDS,
            "fields": ACCOUNT_FIELDS,
            "account": account,
            "form": values,
            "errors": errors or {},
            "conflict": conflict,
            "saved": saved,
            "mfa": mfa.status(db, account.id),
            "mfa_reset": mfa_reset,
        },
        status_code=status_code,
    )


def _account(db: DbDep, user_id: str) -> User:
    parsed = _parse_uuid(user_id)
    account = db.get(User, parsed) if parsed else None
    if account is None:
        raise NotFound("There is no such account")
    return account


@router.get("/users/{user_id}", name="admin_user")
def edit_account_page(
    context: PageContext,
    _admin: AdminLogin,
    db: DbDep,
    user_id: str,
    saved: bool = False,
    mfa_reset: bool = False,
) -> Response:
    """One account's name, role and active state."""
    return _edit_page(context, _account(db, user_id), db=db, saved=saved, mfa_reset=mfa_reset)


@router.post("/users/{user_id}")
def edit_account(
    context: PageContext,
    login: CsrfLogin,
    _admin: AdminLogin,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    user_id: str,
    full_name: FormStr = "",
    role: FormStr = "",
    version: FormStr = "",
    is_active: FormStr = "",
) -> Response:
    """Save name, role and active state, refusing a change based on an older version."""
    account = _account(db, user_id)
    active = is_active == "on"
    # The version this admin's edit is based on goes back into the form unchanged, so a
    # corrected resubmission is still checked against what they saw.
    form = {"full_name": full_name, "role": role, "is_active": active, "version": version}
    own = user_service.own_account_problems(
        account=account, actor=login.user, role=role, is_active=active
    )
    if own:
        # Locking oneself out (or leaving the practice without an admin) needs a second admin.
        errors = {"form": " ".join(f"{m[:1].upper()}{m[1:]}." for _, m in own)}
        return _edit_page(context, account, db=db, form=form, errors=errors, status_code=422)
    if not version.strip().isdigit():
        errors = {"form": "This form is missing its version; reload the page and try again."}
        return _edit_page(context, account, db=db, form=form, errors=errors, status_code=422)
    try:
        data = UserUpdate.model_validate(
            {"full_name": full_name, "role": role, "is_active": active, "version": int(version)}
        )
        user_service.update_user(db, settings, user=account, data=data, actor=actor)
    except ValidationError as exc:
        return _edit_page(
            context, account, db=db, form=form, errors=_validation_errors(exc), status_code=422
        )
    except Conflict:
        # Keep what this admin entered, show what is stored now; saving again is a deliberate
        # choice made with both in view (the hidden version is now the current one).
        form["version"] = str(account.version)
        return _edit_page(context, account, db=db, form=form, conflict=True, status_code=409)
    url = context["request"].app.url_path_for("admin_user", user_id=str(account.id))
    return RedirectResponse(f"{url}?saved=1", status_code=303)


@router.post("/users/{user_id}/mfa/reset", name="admin_user_mfa_reset")
def reset_account_mfa(
    context: PageContext,
    _login: CsrfLogin,
    _admin: AdminLogin,
    actor: WebActor,
    db: DbDep,
    user_id: str,
) -> Response:
    """Remove an account's second factor (lost phone): its logins end, it sets up a new one."""
    account = _account(db, user_id)
    try:
        mfa.reset(db, user=account, now=utcnow(), actor=actor)
    except Invalid as exc:
        errors = _invalid_errors(exc, {"user_id": "mfa"})
        return _edit_page(context, account, db=db, errors=errors, status_code=422)
    url = context["request"].app.url_path_for("admin_user", user_id=str(account.id))
    return RedirectResponse(f"{url}?mfa_reset=1", status_code=303)


@router.post("/supervision", name="admin_supervision_add")
def add_supervision(
    context: PageContext,
    _login: CsrfLogin,
    _admin: AdminLogin,
    actor: WebActor,
    db: DbDep,
    supervisor_id: FormStr = "",
    supervisee_id: FormStr = "",
) -> Response:
    """Let a supervisor read a practitioner's clients."""
    link_form = {"supervisor_id": supervisor_id, "supervisee_id": supervisee_id}
    errors: dict[str, str] = {}
    supervisor_key, supervisee_key = _parse_uuid(supervisor_id), _parse_uuid(supervisee_id)
    supervisor = db.get(User, supervisor_key) if supervisor_key else None
    if supervisor is None:
        errors["supervisor_id"] = _MESSAGES["supervisor_id"]
    elif supervisor.role != Role.SUPERVISOR:
        # The API lets any practitioner supervise; the dashboard's supervision page is for
        # supervisor accounts, so links made here are kept to them.
        errors["supervisor_id"] = "Only a supervisor account can supervise; change its role first."
    if supervisee_key is None:
        errors["supervisee_id"] = _MESSAGES["supervisee_id"]
    if not errors and supervisor is not None and supervisee_key is not None:
        try:
            user_service.add_supervisee(
                db,
                supervisor=supervisor,
                data=SupervisionCreate(supervisee_id=supervisee_key),
                actor=actor,
            )
        except Invalid as exc:
            errors = _invalid_errors(exc, {"supervisor": "supervisor_id"})
        except Conflict as exc:
            errors = {"form": exc.detail}
    if errors:
        return _users_page(context, db, status_code=422, link_form=link_form, link_errors=errors)
    return _to_list(context["request"], "linked")


@router.post("/supervision/remove", name="admin_supervision_remove")
def remove_supervision(
    context: PageContext,
    _login: CsrfLogin,
    _admin: AdminLogin,
    actor: WebActor,
    db: DbDep,
    supervisor_id: FormStr = "",
    supervisee_id: FormStr = "",
) -> Response:
    """End a supervision link; no clinical data is touched."""
    supervisor_key, supervisee_key = _parse_uuid(supervisor_id), _parse_uuid(supervisee_id)
    if supervisor_key is None or supervisee_key is None:
        raise NotFound("Supervision link not found")
    user_service.remove_supervisee(
        db, supervisor_id=supervisor_key, supervisee_id=supervisee_key, actor=actor
    )
    return _to_list(context["request"], "unlinked")
