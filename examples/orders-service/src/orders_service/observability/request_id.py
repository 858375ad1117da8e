"""Request IDs: the caller's `X-Request-ID` when it is safe to log and echo, else a new one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from contextvars import ContextVar

HEADER = "X-Request-ID"
MAX_LENGTH = 128

# ASGI gives header names lower-cased, as bytes.
_HEADER_KEY = HEADER.lower().encode()
# What UUIDs, ULIDs and proxies' IDs are made of, and nothing that could split a log line or
# a header: letters, digits, `-`, `_`, `.` and `:`.
_VALID = re.compile(rb"[A-Za-z0-9._:-]+")

# The ID of the request being served; every log line written while serving it carries it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    """32 random hex digits."""
    return os.urandom(16).hex()


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's valid `X-Request-ID`, or a new ID when it has none or an invalid one."""
    for name, value in headers:
        if name == _HEADER_KEY:
            if len(value) <= MAX_LENGTH and _VALID.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()
