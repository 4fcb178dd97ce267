"""Account roles: who may own clients, supervise, or manage accounts (DESIGN.md "Domain words").

Kept apart from the ORM so the command line can offer the roles without loading every model.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    THERAPIST = "therapist"
    COACH = "coach"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
