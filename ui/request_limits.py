"""Refuse oversized request bodies before anything reads them.

``launch(max_file_size=...)`` guards Gradio's upload route only. The same picture can
also arrive inside a JSON request body, as a ``data:`` URL (``{"url": "data:image/png;
base64,..."}``), which Gradio decodes in memory: a 250 MB one cost the server 680 MB.
Files from the page and from ``gradio_client.handle_file`` always go through the upload
route, so other requests carry only small JSON (numbers, names, file references). This
ASGI middleware lets the upload route through (it has its own limit) and answers any
other request whose body is larger than ``max_bytes`` with ``413`` and a short message,
checked on the ``Content-Length`` header before reading and, for bodies sent without
one, while reading (the request is cut off as soon as it passes the limit).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict

Scope = Dict[str, Any]
Message = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Largest body of a request other than a file upload (JSON with numbers and file references).
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def _too_large_message(max_bytes: int, upload_limit: str) -> str:
    return (f"This request is larger than the {max_bytes // (1024 * 1024)} MB this server accepts outside "
            f"file uploads. Send images and videos as file uploads (up to {upload_limit}; with gradio_client: "
            "handle_file(path)), not as data: URLs inside the request.")


class RequestSizeLimit:
    """ASGI middleware: ``413`` for non-upload requests whose body exceeds ``max_bytes``."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int = MAX_REQUEST_BYTES,
                 upload_limit: str = "200 MB", exempt_suffixes: tuple = ("/upload",)) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.message = _too_large_message(self.max_bytes, upload_limit)
        self.exempt_suffixes = exempt_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or str(scope.get("path", "")).rstrip("/").endswith(self.exempt_suffixes):
            await self.app(scope, receive, send)
            return
        length = self._content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True  # the app sees a client that went away; we answer 413
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:  # noqa: BLE001 - a handler cut off mid-body may raise; answered below
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(send)

    @staticmethod
    def _content_length(scope: Scope) -> Any:
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.message, "error": self.message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
