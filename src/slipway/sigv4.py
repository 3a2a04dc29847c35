"""Checking AWS Signature Version 4 on requests that boto3 and the AWS SDKs sign.

The server recomputes the signature the client made: the canonical request (method, path,
query, the headers the client says it signed, the payload's SHA-256), the string to sign,
and the signing key derived from the secret for the date, region and service of the
credential scope. The headers and their order come from the client's ``SignedHeaders``,
which is why this is not botocore's signer: that one picks the headers itself.

Two AWS APIs are checked here, which sign slightly differently: the SageMaker JSON API
(a normalised path, the body's hash) and S3 (the path as sent, the payload hash the client
states in ``x-amz-content-sha256``, and presigned URLs that carry the signature in their
query). A refusal says what is wrong in both APIs' terms (``code`` for the JSON API,
``s3_code`` for S3).

Why the secret access key is stored as is, unlike a bearer token's hash: an HMAC can only
be checked by whoever holds its key, so the server must be able to read the secret (AWS
keeps its customers' secrets server-side too). Encrypting it would need a key the server
can read as well; kept in the same configuration or database, it would protect nothing,
and kept apart it is one more secret to lose. So the database of a server with access keys
must be protected as the keys themselves are; revoking the token deletes its keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from botocore.utils import normalize_url_path

from slipway.errors import SlipwayError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
# The longest a presigned URL may be valid, as AWS allows: seven days.
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_INCOMPLETE = "IncompleteSignatureException"
_INVALID = "InvalidSignatureException"


class SignatureError(SlipwayError):
    """A request whose signature is missing, malformed, out of date or wrong."""

    status_code = 403

    def __init__(self, code: str, s3_code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.s3_code = s3_code


@dataclass(frozen=True)
class Credential:
    """What an ``Authorization: AWS4-HMAC-SHA256 ...`` header or a presigned URL says."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    # Only for presigned URLs, whose time and lifetime are in the query.
    presigned_at: str = ""
    expires: int = 0

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @property
    def presigned(self) -> bool:
        return bool(self.presigned_at)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    raw_path: str
    query_string: str
    headers: list[tuple[str, str]]  # lower-case names, in the order received
    body: bytes = b""

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def parse_authorization(header: str) -> Credential:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(
            _INCOMPLETE, "AccessDenied",
            f"authorization scheme {algorithm!r} is not supported; sign with {ALGORITHM}",
        )  # fmt: skip
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    if not all(fields.get(name) for name in ("SignedHeaders", "Signature")):
        raise SignatureError(
            _INCOMPLETE, "AuthorizationHeaderMalformed",
            "the Authorization header must have Credential=KEY/DATE/REGION/SERVICE/aws4_request, "
            "SignedHeaders=... and Signature=...",
        )  # fmt: skip
    return _credential(fields.get("Credential", ""), fields["SignedHeaders"], fields["Signature"])


def parse_presigned(query_string: str) -> Credential | None:
    """The credential of a presigned URL's query, or None if the query carries none."""
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    if "X-Amz-Signature" not in query:
        return None
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise SignatureError(
            _INCOMPLETE, "AuthorizationQueryParametersError",
            f"X-Amz-Algorithm {query.get('X-Amz-Algorithm')!r} is not supported; "
            f"presign with {ALGORITHM}",
        )  # fmt: skip
    expires = query.get("X-Amz-Expires", "")
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGNED_SECONDS:
        raise SignatureError(
            _INCOMPLETE, "AuthorizationQueryParametersError",
            f"X-Amz-Expires {expires!r} must be a number of seconds from 1 to "
            f"{MAX_PRESIGNED_SECONDS} (seven days)",
        )  # fmt: skip
    credential = _credential(
        query.get("X-Amz-Credential", ""),
        query.get("X-Amz-SignedHeaders", ""),
        query["X-Amz-Signature"],
    )
    return dataclasses.replace(
        credential, presigned_at=query.get("X-Amz-Date") or "?", expires=int(expires)
    )


def _credential(scope_text: str, signed_headers: str, signature_text: str) -> Credential:
    scope = scope_text.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signed_headers or not signature_text:
        raise SignatureError(
            _INCOMPLETE, "AuthorizationHeaderMalformed",
            f"the credential {scope_text!r} must have the form "
            "KEY/DATE/REGION/SERVICE/aws4_request, with signed headers and a signature",
        )  # fmt: skip
    return Credential(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(signed_headers.split(";")),
        signature=signature_text,
    )


def verify(
    request: SignedRequest,
    credential: Credential,
    secret: str,
    service: str,
    now: dt.datetime,
) -> None:
    """Raise SignatureError unless ``credential`` signed ``request`` with ``secret`` lately."""
    if credential.service != service:
        raise SignatureError(
            _INVALID, "AuthorizationHeaderMalformed",
            f"the credential scope names the service {credential.service!r}; "
            f"requests here are signed for {service!r}",
        )  # fmt: skip
    needed = ("host",) if credential.presigned else ("host", "x-amz-date")
    for name in needed:
        if name not in credential.signed_headers:
            raise SignatureError(_INVALID, "AccessDenied", f"the header {name!r} must be signed")
    amz_date = credential.presigned_at or (request.header("x-amz-date") or [""])[0]
    signed_at = _signing_time(amz_date)
    _check_time(credential, signed_at, now)
    if credential.date != amz_date[:8]:
        raise SignatureError(
            _INVALID, "AuthorizationHeaderMalformed",
            f"the credential scope's date {credential.date!r} is not the day of X-Amz-Date",
        )  # fmt: skip
    expected = signature(request, credential, secret, amz_date)
    if not hmac.compare_digest(expected, credential.signature):
        raise SignatureError(
            _INVALID, "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            f"Check the secret access key of {credential.access_key_id!r} and the signing "
            "method.",
        )  # fmt: skip


def _signing_time(amz_date: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(amz_date, _DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError(
            _INCOMPLETE, "AccessDenied",
            f"X-Amz-Date {amz_date!r} is not a time of the form 20260101T120000Z",
        ) from None  # fmt: skip


def _check_time(credential: Credential, signed_at: dt.datetime, now: dt.datetime) -> None:
    if credential.presigned:
        if now > signed_at + dt.timedelta(seconds=credential.expires):
            raise SignatureError(
                _INVALID, "AccessDenied",
                f"Request has expired: the URL was signed at {credential.presigned_at} for "
                f"{credential.expires} seconds; presign a new one",
            )  # fmt: skip
        if signed_at - now <= MAX_CLOCK_SKEW:
            return
    elif abs(now - signed_at) <= MAX_CLOCK_SKEW:
        return
    raise SignatureError(
        _INVALID, "RequestTimeTooSkewed",
        f"Signature expired: {signed_at:{_DATE_FORMAT}} is more than 15 minutes from the "
        f"server's time {now:{_DATE_FORMAT}}; check the client's clock",
    )  # fmt: skip


def signature(request: SignedRequest, credential: Credential, secret: str, amz_date: str) -> str:
    to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            credential.scope,
            hashlib.sha256(canonical_request(request, credential).encode()).hexdigest(),
        ]
    )
    return hmac.new(signing_key(secret, credential), to_sign.encode(), hashlib.sha256).hexdigest()


def signing_key(secret: str, credential: Credential) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (credential.date, credential.region, credential.service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def canonical_request(request: SignedRequest, credential: Credential) -> str:
    headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in request.header(name))}\n"
        for name in credential.signed_headers
    )
    return "\n".join(
        [
            request.method,
            _canonical_path(request.raw_path, credential.service),
            _canonical_query(request.query_string, credential.presigned),
            headers,
            ";".join(credential.signed_headers),
            _payload_hash(request, credential),
        ]
    )


def _canonical_path(raw_path: str, service: str) -> str:
    # S3 signs the path as sent (keys may hold '//' or '.'); other services normalise it.
    if service == "s3":
        return raw_path
    return quote(normalize_url_path(raw_path), safe="/~")


def _payload_hash(request: SignedRequest, credential: Credential) -> str:
    if credential.presigned:
        return UNSIGNED_PAYLOAD
    stated = (request.header("x-amz-content-sha256") or [""])[0]
    return stated or hashlib.sha256(request.body).hexdigest()


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&") if pair)
    return "&".join(
        f"{key}={value}" for key, value in pairs if not (presigned and key == "X-Amz-Signature")
    )
