"""The caseload (home page): every visible client at a glance, with filters, sorting and load."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any, Final, get_args
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Row

from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.domain.flags import FlagCode, FlagLevel, flag_name, flag_sort_key
from practice_dashboard.domain.labels import STATUS_WORDS, TREND_ARROWS, TREND_WORDS
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import ClientStatus, Role
from practice_dashboard.routing import Router
from practice_dashboard.services.analytics import caseload as caseload_service
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.analytics.caseload import CaseloadSort
from practice_dashboard.web.deps import PageContext, WebActor
from practice_dashboard.web.sparkline import sparkline
from practice_dashboard.web.templating import templates

router = Router()

PAGE_SIZES: Final = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE: Final = 100_000
FLAG_CODES: Final[tuple[str, ...]] = get_args(FlagCode)
FLAG_LEVELS: Final[tuple[str, ...]] = get_args(FlagLevel)

# direction -> (arrow, word); the arrow is about recovery minutes (down = faster recovery).
DIRECTIONS: Final[dict[str, tuple[str, str]]] = {
    direction: (TREND_ARROWS[direction], word) for direction, word in TREND_WORDS.items()
}
SORT_LABELS: Final[dict[CaseloadSort, str]] = {
    CaseloadSort.NAME: "client name",
    CaseloadSort.STATUS: "status",
    CaseloadSort.PRACTITIONER: "practitioner",
    CaseloadSort.LAST_ATTENDED: "last attended session",
    CaseloadSort.NEXT_SESSION: "next session",
    CaseloadSort.RECOVERY: "median recovery",
    CaseloadSort.TIME_IN_WINDOW: "time in window",
    CaseloadSort.FLAGS: "flags (most urgent first)",
}


def _enum_or_none(value: str | None, allowed: tuple[str, ...]) -> str | None:
    # A page never answers a hand-edited query string with a JSON 422: unknown values are
    # ignored, as an empty "any" choice from the form is.
    return value if value in allowed else None


def _positive_int(value: str | None, default: int, *, maximum: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        return default
    return min(max(number, 1), maximum)


@dataclass(frozen=True, slots=True)
class Filters:
    """The caseload's GET parameters, parsed leniently; `query()` writes them back."""

    flag: str | None = None
    level: str | None = None
    status: str | None = None
    practitioner: uuid.UUID | None = None
    search: str = ""
    sort: CaseloadSort = CaseloadSort.FLAGS
    order: str | None = None  # None: the sort's natural order
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, params: dict[str, str | None]) -> Filters:
        practitioner = None
        try:
            practitioner = uuid.UUID(params.get("practitioner") or "")
        except ValueError:
            pass
        per_page = _positive_int(params.get("per_page"), DEFAULT_PAGE_SIZE, maximum=max(PAGE_SIZES))
        sort = params.get("sort") or ""
        return cls(
            flag=_enum_or_none(params.get("flag"), FLAG_CODES),
            level=_enum_or_none(params.get("level"), FLAG_LEVELS),
            status=_enum_or_none(params.get("status"), tuple(s.value for s in ClientStatus)),
            practitioner=practitioner,
            search=(params.get("search") or "").strip()[:100],
            sort=CaseloadSort(sort) if sort in tuple(CaseloadSort) else CaseloadSort.FLAGS,
            order=_enum_or_none(params.get("order"), ("asc", "desc")),
            page=_positive_int(params.get("page"), 1, maximum=MAX_PAGE),
            per_page=per_page if per_page in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        )

    @property
    def descending(self) -> bool:
        if self.order is not None:
            return self.order == "desc"
        return self.sort == CaseloadSort.FLAGS

    @property
    def filtered(self) -> bool:
        return bool(self.flag or self.level or self.status or self.practitioner or self.search)

    def query(self, **changes: Any) -> str:
        """This view's query string with `changes`, defaults left out (short, shareable URLs)."""
        f = replace(self, **changes)
        pairs = [
            ("flag", f.flag),
            ("level", f.level),
            ("status", f.status),
            ("practitioner", str(f.practitioner) if f.practitioner else None),
            ("search", f.search or None),
            ("sort", f.sort.value if f.sort != CaseloadSort.FLAGS else None),
            ("order", f.order),
            ("page", str(f.page) if f.page != 1 else None),
            ("per_page", str(f.per_page) if f.per_page != DEFAULT_PAGE_SIZE else None),
        ]
        encoded = urlencode([(k, v) for k, v in pairs if v is not None])
        return f"?{encoded}" if encoded else "?"

    def sort_link(self, column: CaseloadSort) -> str:
        """Clicking the current column flips its order; another column starts in its natural one."""
        if column == self.sort:
            order = "asc" if self.descending else "desc"
        else:
            order = "desc" if column == CaseloadSort.FLAGS else "asc"
        return self.query(sort=column, order=order, page=1)

    def aria_sort(self, column: CaseloadSort) -> str | None:
        if column != self.sort:
            return None
        return "descending" if self.descending else "ascending"


def ordered_flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Speaking flags before acknowledged ones; safety, then alerts, then watches."""
    return sorted(
        flags,
        key=lambda f: (
            f.get("acknowledgement") is not None,
            flag_sort_key(f["code"], f["level"]),
            flag_name(f["code"]),
        ),
    )


def client_row(item: dict[str, Any], today: date) -> dict[str, Any]:
    """One caseload item as the table shows it."""
    direction = item["recovery"]["direction"]
    arrow, word = DIRECTIONS.get(direction, ("", direction.replace("_", " ")))
    as_of = item["as_of"]
    return {
        **item,
        "status_word": STATUS_WORDS.get(item["status"].value, item["status"].value),
        "direction": direction,
        "arrow": arrow,
        "direction_word": word,
        "sparkline": sparkline(item.get("weekly_recovery")),
        "flags": ordered_flags(item["flags"]),
        # None: current; otherwise the day the figures were computed (or "not yet").
        "stale": as_of is None or as_of < today,
    }


#: Caseload rows kept drawn, across pages and callers: one per row content and view, so
#: about one per client a worker shows. Each holds its columns and its HTML, about 6.5 KB
#: (tracemalloc): 7 MB at most.
ROWS_KEPT: Final = 1024


@lru_cache(maxsize=ROWS_KEPT)
def _drawn(row: Row[Any], today: date, tz: Any, show_practitioner: bool) -> Markup:
    macro = templates.get_template("partials/caseload_row.html").module.caseload_row  # type: ignore[attr-defined]
    return Markup(macro(client_row(caseload_service.item(row), today), show_practitioner, tz))


def drawn_row(row: Row[Any], today: date, tz: Any, show_practitioner: bool) -> Markup:
    """A caseload row's HTML, drawn again only when something it shows has changed.

    Summaries change when their client's records do, or once a day; a caseload is viewed far
    more often, and drawing its rows is most of its cost. The row is the key: every column the
    row shows (its summary's JSON as text, so nothing is decoded for a row drawn before), with
    the day (an earlier day's figures are marked), the time zone and the practitioner column.
    """
    return _drawn(row, today, tz, show_practitioner)


def home_path() -> str:
    # Looked up on this router: the app-wide name "caseload" also names GET /api/v1/caseload.
    return str(router.url_path_for("caseload"))


def page_globals() -> dict[str, Any]:
    return {
        "directions": DIRECTIONS,
        "status_words": STATUS_WORDS,
        "sorts": CaseloadSort,
    }


@router.get("/", name="caseload")
def caseload_page(
    context: PageContext,
    actor: WebActor,
    db: DbDep,
    settings: SettingsDep,
    flag: str | None = None,
    level: str | None = None,
    status: str | None = None,
    practitioner: str | None = None,
    search: str | None = None,
    sort: str | None = None,
    order: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """Every client the caller may see, worst flags first, with the caller's own load."""
    request = context["request"]
    if actor.user.role == Role.ADMIN:
        # Admins manage accounts and see no clinical data (minimum necessary).
        return RedirectResponse(request.app.url_path_for("admin_users"), status_code=303)
    filters = Filters.parse(
        {
            "flag": flag,
            "level": level,
            "status": status,
            "practitioner": practitioner,
            "search": search,
            "sort": sort,
            "order": order,
            "page": page,
            "per_page": per_page,
        }
    )
    now = utcnow()
    result = caseload_service.caseload_rows(
        db,
        actor=actor,
        settings=settings,
        now=now,
        flag=filters.flag,
        level=filters.level,
        status=ClientStatus(filters.status) if filters.status else None,
        practitioner_id=filters.practitioner,
        search=filters.search or None,
        directions=True,
        sort=filters.sort,
        descending=filters.descending,
        limit=filters.per_page,
        offset=(filters.page - 1) * filters.per_page,
    )
    today = summary.practice_today(settings, now)
    directions = result["directions"]
    practitioners = result["practitioners"]
    own = next((p for p in practitioners if p["practitioner_id"] == actor.user.id), None)
    total = result["total"]
    rows = result["rows"]
    show_practitioner = len(practitioners) > 1
    first = (filters.page - 1) * filters.per_page
    return templates.TemplateResponse(
        request,
        "caseload.html",
        {
            **context,
            **page_globals(),
            "nav": "caseload",
            "home": home_path(),
            "filters": filters,
            # One piece of markup: each row is markup already, and escaping (so copying) the
            # rows one by one was about a fifth of rendering the page's template.
            "rows": Markup(
                "".join(drawn_row(row, today, context["tz"], show_practitioner) for row in rows)
            ),
            "total": total,
            "first": first + 1,
            "last": first + len(rows),
            "pages": max(1, -(-total // filters.per_page)),
            "page_sizes": PAGE_SIZES,
            "stale": result["stale"],
            "practitioners": practitioners,
            "show_practitioner": show_practitioner,
            "own_load": own,
            "thresholds": settings.thresholds,
            "directions_count": directions,
            "active_total": sum(directions.values()),
            "flag_codes": FLAG_CODES,
            "flag_levels": FLAG_LEVELS,
            "statuses": [s.value for s in ClientStatus],
            "sort_label": SORT_LABELS[filters.sort],
        },
    )
