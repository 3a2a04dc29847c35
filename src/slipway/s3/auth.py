"""Who signs an S3 request: SigV4 in the Authorization header or in a presigned URL's query.

Only the request line and headers are checked here; the body streams on to the operation,
which checks it against the payload hash the client signed (``slipway.s3.payload``), so
that an upload of gigabytes is never held in memory to check its signature.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from slipway import sigv4
from slipway.auth.roles import OWNER, Principal
from slipway.errors import SlipwayError
from slipway.s3 import PREFIX
from slipway.s3.errors import S3Error, error_response

SERVICE = "s3"


@dataclass(frozen=True)
class ChunkSigning:
    """What checks the signature of each chunk of a signed aws-chunked upload."""

    key: bytes
    seed_signature: str
    amz_date: str
    scope: str


def is_s3_request(scope: Scope) -> bool:
    path = scope["path"]
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


async def authenticate(scope: Scope, receive: Receive, send: Send, tokens: Any) -> Principal | None:
    """The signer of an S3 request, or None once a refusal has been sent.

    A server that requires no tokens trusts every caller as its owner, whatever the
    signature (boto3 needs some credentials to sign).
    """
    try:
        if not await run_in_threadpool(tokens.required):
            return OWNER
        principal, chunk_signing = await run_in_threadpool(signer, scope, tokens)
    except SlipwayError as error:
        await error_response(error, scope)(scope, receive, send)
        return None
    scope.setdefault("state", {})["s3_chunk_signing"] = chunk_signing
    return principal


def signer(scope: Scope, tokens: Any) -> tuple[Principal, ChunkSigning]:
    """Who signed the request, checked; raises SignatureError or S3Error (403) otherwise."""
    query = scope["query_string"].decode("latin-1")
    authorization = _header(scope, b"authorization")
    if authorization:
        credential = sigv4.parse_authorization(authorization)
    else:
        credential = sigv4.parse_presigned(query)
    if credential is None and "AWSAccessKeyId=" in query:
        raise S3Error(
            403, "AccessDenied",
            "this URL is signed with AWS Signature Version 2, which this server does not "
            "accept; presign with Signature Version 4: boto3.client('s3', config="
            "Config(signature_version='s3v4'), ...)",
        )  # fmt: skip
    if credential is None:
        raise S3Error(
            403, "AccessDenied",
            "this server needs signed requests: make an access key with `slipway token "
            "create NAME --access-key` and give it to boto3 as its credentials",
        )  # fmt: skip
    key = tokens.access_key(credential.access_key_id)
    if key is None:
        raise S3Error(
            403, "InvalidAccessKeyId",
            f"access key {credential.access_key_id!r} is not known here; make one with "
            "`slipway token create NAME --access-key`",
        )  # fmt: skip
    request = sigv4.SignedRequest(
        method=scope["method"],
        raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        query_string=query,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
    )
    if not credential.presigned and not request.header("x-amz-content-sha256"):
        raise S3Error(
            400, "InvalidRequest",
            "a signed S3 request must state its payload hash in x-amz-content-sha256",
        )  # fmt: skip
    sigv4.verify(request, credential, key.secret_access_key, SERVICE, dt.datetime.now(dt.UTC))
    chunk_signing = ChunkSigning(
        key=sigv4.signing_key(key.secret_access_key, credential),
        seed_signature=credential.signature,
        amz_date=credential.presigned_at or request.header("x-amz-date")[0],
        scope=credential.scope,
    )
    return key.principal, chunk_signing
