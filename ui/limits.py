"""What one request may ask of the server, and the middleware that refuses request bodies over their caps."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# What one request may ask of the server. An upload's size is capped per file by Gradio, per
# request body by RequestCaps, and per "Add articles" submission by stage_uploads.
MAX_UPLOAD_MB = 20  # one file
MAX_UPLOAD_FILES = 50  # files in one submission
MAX_SUBMISSION_MB = 100  # all files of one submission together
MAX_REQUEST_KB = 2048  # any other request body (a chat turn carries its history)
MAX_URL_CHARS = 2048
MAX_QUESTION_CHARS = 2000
MAX_HISTORY = 20  # earlier questions kept of a conversation; follow-ups read only the last few
MAX_TOP_K = 20  # the answer settings' slider range
QUEUE_SIZE = 100  # events waiting at once; beyond it a request is told the queue is full
UPLOAD_CACHE_SECONDS = 3600  # uploads left in Gradio's cache are deleted after this


class RequestTooLarge(Exception):
    """A request body grew past its cap while it was read."""


class RequestCaps:
    """ASGI middleware: a request body over its cap is answered 413 before the app reads it.

    Uploads may carry one submission's files (MAX_SUBMISSION_MB); every other request, a chat
    turn or an API call, MAX_REQUEST_KB. A body without a length is counted as it arrives.
    """

    def __init__(self, app: Any, upload_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].rstrip("/").endswith("/upload")
        cap = self.upload_bytes if upload else self.other_bytes
        why = (
            f"the files of one upload may be {MAX_SUBMISSION_MB} MB in all; add the others in another submission"
            if upload
            else f"a request body is at most {MAX_REQUEST_KB} KB"
        )
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > cap:
            await self.refuse(send, why)
            return
        read = 0
        over = started = False

        async def counted() -> Any:
            nonlocal read, over
            message = await receive()
            read += len(message.get("body", b""))
            if read > cap:
                over = True
                raise RequestTooLarge(why)
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if over:  # the app's own answer to a body it could not read (FastAPI says 400): ours instead
                if not started:
                    started = True
                    await self.refuse(send, why)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except RequestTooLarge:
            if not started:
                await self.refuse(send, why)

    @staticmethod
    async def refuse(send: Any, why: str) -> None:
        log.warning("refused a request: %s", why)
        body = f"Request too large: {why}.".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
