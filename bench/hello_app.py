"""The smallest ASGI app uvicorn can serve: the start-up and memory ceiling of `bench.ceilings`.

    .venv/bin/python -m uvicorn bench.hello_app:app --port 8001

It imports nothing, so what it costs is uvicorn's own start and an idle Python process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope,
    _receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """200 "ok" to every HTTP request (the lifespan protocol is left to uvicorn's default)."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})
