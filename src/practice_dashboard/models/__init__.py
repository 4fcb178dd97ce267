"""ORM models, one file per table. Importing this package registers every table."""

from practice_dashboard.models.annotation import Annotation, AnnotationKind
from practice_dashboard.models.audit import AuditEvent
from practice_dashboard.models.base import Base
from practice_dashboard.models.checkin import Assignment, CheckinLink
from practice_dashboard.models.client import Client
from practice_dashboard.models.episode import Episode
from practice_dashboard.models.flag import FlagAcknowledgement
from practice_dashboard.models.heartbeat import Heartbeat
from practice_dashboard.models.login_failure import LoginFailure
from practice_dashboard.models.login_session import LoginSession
from practice_dashboard.models.measure import Measure
from practice_dashboard.models.mfa import MfaAuthenticator, MfaRecoveryCode
from practice_dashboard.models.observation import Observation
from practice_dashboard.models.revision import RecordKind, Revision
from practice_dashboard.models.self_check import SelfCheck
from practice_dashboard.models.session import Session
from practice_dashboard.models.summary import ClientSummary
from practice_dashboard.models.user import Supervision, User

__all__ = [
    "Annotation",
    "AnnotationKind",
    "Assignment",
    "AuditEvent",
    "Base",
    "CheckinLink",
    "Client",
    "ClientSummary",
    "Episode",
    "FlagAcknowledgement",
    "Heartbeat",
    "LoginFailure",
    "LoginSession",
    "Measure",
    "MfaAuthenticator",
    "MfaRecoveryCode",
    "Observation",
    "RecordKind",
    "Revision",
    "SelfCheck",
    "Session",
    "Supervision",
    "User",
]
