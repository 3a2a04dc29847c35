"""Who signs a request with an AWS access key: the server's authentication for AWS clients.

``AuthMiddleware`` hands over requests that an AWS SDK sent (signed with SigV4, or aimed
at an AWS operation without any Authorization header); the answer is the caller's
``Principal``, so the services' guard then applies the token's role as for any caller.
Refusals are in AWS's error shape, which the AWS SDKs turn into their exceptions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from slipway import sigv4
from slipway.auth.roles import OWNER, Principal
from slipway.errors import PayloadTooLarge, SlipwayError
from slipway.sagemaker.protocol import AwsError, error_response

SERVICE = "sagemaker"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def is_aws_request(scope: Scope) -> bool:
    """A request an AWS SDK sent: signed with SigV4, or an AWS operation with no credentials."""
    authorization = _header(scope, b"authorization")
    if authorization:
        return authorization.startswith(sigv4.ALGORITHM)
    return bool(_header(scope, b"x-amz-target"))


async def authenticate(
    scope: Scope, receive: Receive, send: Send, tokens: Any, max_bytes: int
) -> tuple[Principal | None, Receive]:
    """The signer of the request, and a ``receive`` that replays the body read to check it.

    None once a refusal has been sent. A server that requires no tokens trusts every
    caller as its owner, whatever the signature (an SDK needs some credentials to sign).
    """
    try:
        if not await run_in_threadpool(tokens.required):
            return OWNER, receive
        return await signer(scope, receive, tokens, max_bytes)
    except SlipwayError as error:
        await error_response(error)(scope, receive, send)
        return None, receive


async def signer(
    scope: Scope, receive: Receive, tokens: Any, max_bytes: int
) -> tuple[Principal, Receive]:
    """Who signed the request, checked; raises AwsError or SignatureError (403) otherwise."""
    authorization = _header(scope, b"authorization")
    if not authorization:
        raise AwsError(
            403, "MissingAuthenticationTokenException",
            "this server needs signed requests: make an access key with `slipway token "
            "create NAME --access-key` and give it to the AWS SDK as its credentials",
        )  # fmt: skip
    credential = sigv4.parse_authorization(authorization)
    key = await run_in_threadpool(tokens.access_key, credential.access_key_id)
    if key is None:
        raise AwsError(
            403, "UnrecognizedClientException",
            f"access key {credential.access_key_id!r} is not known here; make one with "
            "`slipway token create NAME --access-key`",
        )  # fmt: skip
    body = await _read_body(receive, max_bytes)
    request = sigv4.SignedRequest(
        method=scope["method"],
        raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        query_string=scope["query_string"].decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body=body,
    )
    sigv4.verify(request, credential, key.secret_access_key, SERVICE, dt.datetime.now(dt.UTC))
    return key.principal, _replay(body, receive)


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then what the connection says next (its end)."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying
