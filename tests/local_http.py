"""Plain HTTP requests to the servers the tests start on 127.0.0.1, status codes returned, not raised."""

from __future__ import annotations

import urllib.error
import urllib.request


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, text) of a GET, or of a POST when there is a body; an error status is returned, not raised."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
