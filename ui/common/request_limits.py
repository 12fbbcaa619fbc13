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

A file reference can also name a URL (``{"path": "https://...", "meta": {"_type":
"gradio.FileData"}}``): Gradio downloads it into its cache while preprocessing the input,
streamed to disk with no size limit, which would bypass the upload limit and make the server
fetch whatever a client names. ``RemoteFileRefGuard`` reads the (already size-limited) JSON
body of every non-upload request before Gradio sees it and answers ``400`` when a file
reference's ``path`` has a URL scheme (``http:``, ``https:``, ``ftp:``, ``file:``, ...), or
when a reference without a path names a URL other than a ``data:`` one. Uploaded files and
the app's examples are sent as server paths, which pass; the ``url`` next to such a path
(the page sends the file's own ``/gradio_api/file=`` address there) is not fetched by
Gradio when it reads an input, and is left alone.

A call to an endpoint the app does not have (``/gradio_api/call/<unknown>``, or
``/queue/join`` with an unknown ``fn_index``) gets ``404`` and a message pointing at
``/gradio_api/info`` from ``UnknownEndpointGuard``, instead of Gradio's bare ``500`` with a
traceback in the log.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable, Dict, Optional

Scope = Dict[str, Any]
Message = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Largest body of a request other than a file upload (JSON with numbers and file references).
MAX_REQUEST_BYTES = 16 * 1024 * 1024


#: A URL scheme (two or more characters, so a Windows drive letter is not one).
_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]+:")

REMOTE_FILE_MESSAGE = ("This server only accepts files uploaded to it (from the page, or with gradio_client: "
                       "handle_file(path)); it does not fetch files from URLs named in a request. Download "
                       "the file and upload it instead.")


def names_remote_file(data: Any) -> bool:
    """Whether JSON ``data`` holds a file reference that would make the server fetch a URL."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path, url = item.get("path"), item.get("url")
            if isinstance(path, str) and _SCHEME.match(path):
                return True
            if not isinstance(path, str) and isinstance(url, str) and _SCHEME.match(url) \
                    and not url.lstrip().lower().startswith("data:"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


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


class RemoteFileRefGuard:
    """ASGI middleware: ``400`` for non-upload requests whose JSON body names a file by URL.

    The body is read in full before the app runs (``RequestSizeLimit`` outside this one bounds
    it), parsed as Gradio's routes parse it (``json.loads``), and replayed to the app.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], exempt_suffixes: tuple = ("/upload",)) -> None:
        self.app = app
        self.exempt_suffixes = exempt_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or str(scope.get("path", "")).rstrip("/").endswith(self.exempt_suffixes):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away (or RequestSizeLimit cut the body off and answers 413)
        if body:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                data = None  # not JSON: the route refuses it itself
            if names_remote_file(data):
                await _answer(send, 400, REMOTE_FILE_MESSAGE)
                return
        await self.app(scope, _replay(body, receive), send)


#: Routes that name an endpoint in their path (POST): ``/gradio_api/<route>/<api_name>``.
_NAMED_ROUTES = re.compile(r"^/gradio_api/(?:call/v2|call|run|api)/([^/]+)/?$")


def _known_endpoints(app: Any) -> tuple:
    """(API names, function indexes) of the app's Blocks; None when it cannot be told."""
    try:
        fns = app.get_blocks().fns
    except Exception:  # noqa: BLE001 - not a Gradio app: let it answer itself
        return None, None
    return {fn.api_name for fn in fns.values() if getattr(fn, "api_name", None)}, set(fns)


def _unknown_endpoint_message(name: str) -> str:
    return (f"There is no API endpoint named '/{name[:60]}'. The list of endpoints and what each takes is at "
            "/gradio_api/info (with gradio_client: Client(url).view_api()).")


class UnknownEndpointGuard:
    """ASGI middleware: ``404`` with a message for a call to an endpoint the app does not have.

    Gradio answers ``/gradio_api/call/<unknown>`` (and ``/queue/join`` with an unknown
    ``fn_index``) with a bare ``500`` and a traceback in the server log. This guard looks the
    name (or index) up in the app's Blocks first. It reads the body of ``/queue/join`` only,
    after ``RequestSizeLimit`` has bounded it, and replays it to the app.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        named = _NAMED_ROUTES.match(path)
        # ``/run/predict`` is Gradio's route for calls by ``fn_index`` (the page's examples use
        # it): like ``/queue/join``, its body names the event.
        by_index = path.rstrip("/") == "/gradio_api/queue/join" or (named is not None and named.group(1) == "predict")
        if named is not None and not by_index:
            names, _ = _known_endpoints(scope.get("app"))
            name = named.group(1)
            if names is not None and name not in names:
                await _answer(send, 404, _unknown_endpoint_message(name))
                return
        elif by_index:
            receive = await self._check_fn_index(scope, receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _check_fn_index(self, scope: Scope, receive: Receive, send: Send) -> Any:
        """The body replayed (a ``receive``), or None when this guard answered the request."""
        body = await _read_body(receive)
        if body is None:
            return None
        try:
            data = json.loads(body) if body else None
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and "fn_index" in data:
            _, indexes = _known_endpoints(scope.get("app"))
            index = data.get("fn_index")
            if indexes is not None and index is not None and (
                    not isinstance(index, int) or isinstance(index, bool) or index not in indexes):
                await _answer(send, 404, f"There is no event with fn_index {str(index)[:30]}. The list of endpoints "
                                         "is at /gradio_api/info.")
                return None
        return _replay(body, receive)


async def _read_body(receive: Receive) -> Optional[bytes]:
    """The whole request body, or None when the client went away before sending it all."""
    chunks = []
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the client's own
    (for its disconnect), as the app would have."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"detail": message, "error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
