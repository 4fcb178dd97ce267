"""CSV import in the browser: upload, read the dry-run report, then commit.

Step one checks the file (a dry run: every row, nothing written) and shows each problem by
row and column. When the file is clean, the report carries the file back to the browser in a
hidden field (compressed), so the commit needs no server-side storage between the two
requests (the app is stateless). The commit imports it again from the start, all-or-nothing:
if anything changed meanwhile, the report says so and nothing is written.

Uploads are bounded by the request body limit (PRACTICE_DASHBOARD_MAX_BODY_BYTES, 2 MB by
default); larger files go through `practice-dashboard import csv`.
"""

from __future__ import annotations

import base64
import binascii
import io
import zlib
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response

from practice_dashboard.config import Settings
from practice_dashboard.dependencies import DbDep, SettingsDep
from practice_dashboard.routing import Router
from practice_dashboard.services.exchange.csv.spec import IMPORT_ORDER, CsvKind
from practice_dashboard.web.deps import CsrfLogin, PageContext, WebActor, WebLogin

if TYPE_CHECKING:
    from practice_dashboard.services.exchange.csv.importer import ImportReport
from practice_dashboard.web.templating import templates

router = Router()

# Problems listed on the page (the count is always complete).
PAGE_PROBLEMS: Final = 500
# Starlette reads a form field of at most 1 MiB; the carried file must fit in one.
MAX_CARRIED: Final = 1024 * 1024 - 1024
KIND_WORDS: Final[dict[str, str]] = {
    "clients": "Clients",
    "sessions": "Sessions",
    "observations": "Observations (check-ins)",
    "episodes": "Activation episodes",
    "measures": "Measures (questionnaires)",
    "annotations": "Timeline notes",
}


def _render(
    context: dict[str, Any],
    *,
    kind: str | None = None,
    report: ImportReport | None = None,
    carried: str | None = None,
    error: str | None = None,
    done: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        context["request"],
        "import.html",
        {
            **context,
            "nav": "import",
            "kinds": [(k.value, KIND_WORDS[k.value]) for k in IMPORT_ORDER],
            "kind": kind or CsvKind.OBSERVATIONS.value,
            "report": report,
            "problems": report.problems[:PAGE_PROBLEMS] if report else [],
            "carried": carried,
            "error": error,
            "done": done,
        },
        status_code=status_code,
    )


def _context(context: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {**context, "max_mb": f"{settings.max_body_bytes / 1024 / 1024:.3g}"}


def _carry(content: bytes) -> str | None:
    """The file for the commit step, compressed; None when it would not fit in a form field."""
    packed = base64.b64encode(zlib.compress(content, 6)).decode("ascii")
    return packed if len(packed) <= MAX_CARRIED else None


def _unpack(carried: str, limit: int) -> bytes | None:
    """The carried file, or None when it is damaged or would grow past `limit` bytes."""
    try:
        packed = base64.b64decode(carried, validate=True)
        inflate = zlib.decompressobj()
        content = inflate.decompress(packed, limit + 1)
    except (binascii.Error, zlib.error):
        return None
    # A cut or altered stream stops short of its end (and its checksum), or runs past it.
    if len(content) > limit or inflate.unconsumed_tail or inflate.unused_data:
        return None
    if not inflate.eof:
        return None
    return content


def _kind(value: str) -> CsvKind | None:
    try:
        return CsvKind(value)
    except ValueError:
        return None


@router.get("/import", name="import_page")
def import_page(
    context: PageContext,
    settings: SettingsDep,
    _login: WebLogin,
    kind: str | None = None,
    new: int | None = None,
    present: int | None = None,
) -> Response:
    done = None
    if new is not None and kind in KIND_WORDS:
        done = {"kind": KIND_WORDS[kind].lower(), "new": str(new), "present": str(present or 0)}
    return _render(_context(context, settings), kind=kind, done=done)


@router.post("/import/check", name="import_check")
def check_import(
    context: PageContext,
    settings: SettingsDep,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    kind: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Step one: a dry run of the uploaded file; the report, and the commit form if clean."""
    page = _context(context, settings)
    chosen = _kind(kind)
    if chosen is None:
        return _render(page, error="Choose what the file holds.", status_code=422)
    content = file.file.read()
    # Imported per import: a worker that never imports a CSV never loads the importer.
    from practice_dashboard.services.exchange.csv import importer as csv_import

    report = csv_import.import_csv(
        db,
        actor=actor,
        kind=chosen,
        stream=io.BytesIO(content),
        settings=settings,
        dry_run=True,
        filename=file.filename,
        problem_limit=PAGE_PROBLEMS,
    )
    carried = _carry(content) if report.ok else None
    return _render(
        page,
        kind=chosen.value,
        report=report,
        carried=carried,
        status_code=200 if report.ok else 422,
    )


@router.post("/import/commit", name="import_commit")
def commit_import(
    context: PageContext,
    settings: SettingsDep,
    _login: CsrfLogin,
    actor: WebActor,
    db: DbDep,
    kind: Annotated[str, Form()],
    filename: Annotated[str, Form()] = "",
    carried: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Step two: import the checked file (carried back, or chosen again): all rows or none."""
    page = _context(context, settings)
    chosen = _kind(kind)
    if chosen is None:
        return _render(page, error="Choose what the file holds.", status_code=422)
    if carried:
        content = _unpack(carried, settings.max_body_bytes)
    elif file is not None and file.filename:
        content, filename = file.file.read(), file.filename
    else:
        content = None
    if content is None:
        return _render(
            page,
            kind=chosen.value,
            error="The checked file did not come back intact; choose it again.",
            status_code=422,
        )
    # Imported per import: a worker that never imports a CSV never loads the importer.
    from practice_dashboard.services.exchange.csv import importer as csv_import

    report = csv_import.import_csv(
        db,
        actor=actor,
        kind=chosen,
        stream=io.BytesIO(content),
        settings=settings,
        dry_run=False,
        filename=filename or None,
        problem_limit=PAGE_PROBLEMS,
    )
    if not report.committed:
        return _render(page, kind=chosen.value, report=report, status_code=422)
    query = urlencode({"kind": chosen.value, "new": report.new, "present": report.already_present})
    return RedirectResponse(f"/import?{query}", status_code=303)
