"""Smaller answers on the wire: gzip for pages and JSON, pre-compressed copies of static files.

Pages, JSON and CSV are gzipped as they are sent (`ResponseCompression`, Starlette's
GZipMiddleware: streamed exports are compressed chunk by chunk, flushed as they go). Static CSS
and JS are compressed once, at start-up (`precompress`), into a ``.gz`` copy beside each file,
and `PrecompressedStaticFiles` sends that copy to a browser that accepts gzip. Brotli would
save a little more but needs a package we do not otherwise depend on.

BREACH: a compressed page that carries a secret next to text an attacker can put in it leaks
the secret through its length. The login's CSRF token is therefore masked afresh in every page
(`security.mask_token`), and the page that shows a new TOTP key is never compressed.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
from collections.abc import Iterable
from mimetypes import guess_type
from pathlib import Path
from typing import Final

from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Static files worth a pre-compressed copy (text); images and fonts are compressed already.
COMPRESSIBLE_SUFFIXES: Final = frozenset({".css", ".js", ".json", ".svg", ".html", ".txt"})
#: Below this many bytes a gzip header and the extra work cost more than they save.
MINIMUM_SIZE: Final = 1024
#: zlib's default: nearly level 9's size at a third of its time, for pages made per request.
RESPONSE_LEVEL: Final = 6
#: PDFs are compressed inside already; gzipping them again costs time and saves little.
NOT_COMPRESSED_TYPES: Final = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf")
#: Pages that show a long-lived secret next to what a visitor typed (the TOTP key while the
#: authenticator is set up): sent as they are, so their length says nothing about the secret.
NOT_COMPRESSED_PATHS: Final = ("/account/mfa",)


def accepts_gzip(headers: Headers) -> bool:
    """Whether Accept-Encoding allows gzip (``gzip`` or ``*`` with a q-value above 0)."""
    weights: dict[str, float] = {}
    for part in headers.get("accept-encoding", "").split(","):
        name, _, params = part.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        weights[name] = q
    if "gzip" in weights:
        return weights["gzip"] > 0
    return weights.get("*", 0.0) > 0


def _gz_path(path: str | os.PathLike[str]) -> str:
    return os.fspath(path) + ".gz"


def _compressible(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in COMPRESSIBLE_SUFFIXES


def _fresh_copy(path: str | os.PathLike[str], source: os.stat_result) -> os.stat_result | None:
    """The .gz copy's stat when it was made from the file as it is now, else None."""
    try:
        copy = os.stat(_gz_path(path))
    except OSError:
        return None
    # An edited file is newer than its copy: sent as it is until the next start remakes it.
    return copy if copy.st_mtime >= source.st_mtime else None


def _files(directory: Path) -> Iterable[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and _compressible(path):
            yield path


def precompress(directory: Path) -> int:
    """Write a fresh ``.gz`` copy beside every compressible static file that lacks one.

    Returns how many copies were written. A read-only folder is not an error: the files are
    then gzipped as they are sent (`ResponseCompression`), which costs time on every request.
    """
    written = 0
    for path in _files(directory):
        source = path.stat()
        if source.st_size < MINIMUM_SIZE or _fresh_copy(path, source) is not None:
            continue
        # mtime=0: the same file always gives the same bytes (reproducible images, ETags).
        data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
        try:
            # Written aside and renamed into place: a worker starting beside this one never
            # sends half a file.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, _gz_path(path))
        except OSError as error:
            log.warning("static files are not pre-compressed (%s): %s", directory, error)
            return written
        written += 1
    return written


class PrecompressedStaticFiles(StaticFiles):
    """StaticFiles that sends a file's fresh ``.gz`` copy to a browser that accepts gzip."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        if not _compressible(full_path):
            return super().file_response(full_path, stat_result, scope, status_code)
        request_headers = Headers(scope=scope)
        copy = _fresh_copy(full_path, stat_result) if accepts_gzip(request_headers) else None
        headers = {"vary": "Accept-Encoding"}
        if copy is None:
            response = FileResponse(
                full_path, status_code=status_code, stat_result=stat_result, headers=headers
            )
        else:
            # The copy's own stat: its length, and an ETag of its own (another representation).
            response = FileResponse(
                _gz_path(full_path),
                status_code=status_code,
                stat_result=copy,
                media_type=guess_type(os.fspath(full_path))[0] or "application/octet-stream",
                headers={**headers, "content-encoding": "gzip"},
            )
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response


class ResponseCompression:
    """gzip for what the app makes (pages, JSON, CSV, FHIR), except PDFs and secret pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app,
            minimum_size=MINIMUM_SIZE,
            compresslevel=RESPONSE_LEVEL,
            exclude_content_types=NOT_COMPRESSED_TYPES,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope["path"].startswith(NOT_COMPRESSED_PATHS)
            # GZipMiddleware looks only for the word: "gzip;q=0" means never.
            and accepts_gzip(Headers(scope=scope))
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
