"""The HTTP client of remote mode: one httpx client per server, errors mapped back.

A server error body ``{"error": ..., "message": ...}`` becomes the same SlipwayError
subclass that embedded mode raises, so user code handles both modes alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import orjson

from slipway import errors

_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class HttpClient:
    """Calls a slipway server's REST API under ``/api/v1``."""

    def __init__(self, server_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = server_url.rstrip("/")
        self._client = httpx.Client(
            base_url=f"{self.base_url}/api/v1", headers=headers, timeout=_TIMEOUT
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: Iterable[bytes] | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; returns the decoded JSON body (None for 204)."""
        body = orjson.dumps(json) if json is not None else content
        if json is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._client.request(
                method, path, content=body, params=clean, headers=headers
            )
        except httpx.HTTPError as error:
            raise errors.RemoteError(
                f"cannot reach the slipway server at {self.base_url}: {error}; "
                "check SLIPWAY_SERVER_URL and that `slipway server` is running"
            ) from None
        return _decode(response)

    def stream(self, path: str, params: dict[str, Any]) -> Iterator[bytes]:
        """Stream a response body in chunks (artifact downloads)."""
        try:
            with self._client.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    _decode(response)
                yield from response.iter_bytes()
        except httpx.HTTPError as error:
            raise errors.RemoteError(
                f"download from the slipway server at {self.base_url} failed: {error}"
            ) from None

    def close(self) -> None:
        self._client.close()


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if response.status_code >= 400:
        if not isinstance(body, dict):
            body = {"message": f"server answered {response.status_code}: {response.text[:200]}"}
        raise errors.from_response(response.status_code, body)
    return body
