"""Reading a request's body within a limit.

A body over the limit is not kept, but the rest of it is read and discarded before the answer
goes out: a client that writes its whole body before it reads (as botocore does) would otherwise
see the connection reset instead of the answer, and retry the upload. Discarding is bounded in
bytes and in time, so a client cannot hold the service busy with an endless body: past those
bounds the answer says ``Connection: close`` and the connection is closed after it.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import ClientDisconnect, Request

log = logging.getLogger(__name__)

# How much of an unwanted body is read and thrown away, and for how long, before giving up on
# the client reading the answer: enough for the bodies SDKs send (a few times the limits).
DISCARD_MAX_BYTES = 64 * 1024 * 1024
DISCARD_MAX_SECONDS = 10.0


class BodyTooLarge(Exception):
    def __init__(self, size: int, drained: bool):
        super().__init__(size)
        self.size = size  # bytes received, or declared by Content-Length
        self.drained = drained  # whether the rest of the body was read, so the connection can stay open


def connection_headers(drained: bool) -> dict[str, str]:
    """Headers for the answer to a request whose body was (or was not) read to its end."""
    return {} if drained else {"Connection": "close"}


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge once it is known to pass `limit` (the rest discarded)."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared, await discard_body(request))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            size = len(body)
            del body
            raise BodyTooLarge(size, await discard_body(request))
    return bytes(body)


async def discard_body(request: Request) -> bool:
    """Read and drop what is left of the body, within DISCARD_MAX_BYTES and DISCARD_MAX_SECONDS;
    whether it was read to its end."""
    dropped = 0

    async def drain() -> bool:
        nonlocal dropped
        async for chunk in request.stream():
            dropped += len(chunk)
            if dropped > DISCARD_MAX_BYTES:
                return False
        return True

    try:
        return await asyncio.wait_for(drain(), DISCARD_MAX_SECONDS)
    except TimeoutError:
        log.info("stopped discarding a request body after %.0f s (%d bytes)", DISCARD_MAX_SECONDS, dropped)
    except ClientDisconnect:
        log.info("client went away while its request body was discarded (%d bytes)", dropped)
    return False
