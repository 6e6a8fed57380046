"""A request body read ahead by a middleware (to look inside it) and handed on to the app as if unread."""

from __future__ import annotations


def replaying(body: bytes, receive):
    """An ASGI ``receive`` that gives ``body`` once, whole, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
