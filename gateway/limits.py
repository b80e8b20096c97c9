"""Request body size limit, enforced before the body is read into memory.

Starlette's own limiter (FastAPI ``max_body_size``) answers a declared oversized body with a
plain-text 413 before the application's handlers; this one answers with the problem+json every
other error uses.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import problem


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 when the declared or the streamed body exceeds ``limit`` bytes.

    Paths under an ``exempt`` prefix read their bodies themselves, with their own limits.
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        declared = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await self._refuse(scope, receive, send)
                    return
                declared = True
            elif name == b"transfer-encoding":
                declared = False
                break
        if declared or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            # The declared length is within the limit (the server never reads past it), or
            # the method carries no body: nothing to count.
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "corps_trop_volumineux",
            "Corps de requête trop volumineux.",
            f"Taille maximale : {self.limit} octets.",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
