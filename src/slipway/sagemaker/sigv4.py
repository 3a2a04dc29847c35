"""Checking AWS Signature Version 4 on requests that boto3 and the AWS SDKs sign.

The server recomputes the signature the client made: the canonical request (method, path,
query, the headers the client says it signed, the payload's SHA-256), the string to sign,
and the signing key derived from the secret for the date, region and service of the
credential scope. The headers and their order come from the client's ``SignedHeaders``,
which is why this is not botocore's signer: that one picks the headers itself.

Why the secret access key is stored as is, unlike a bearer token's hash: an HMAC can only
be checked by whoever holds its key, so the server must be able to read the secret (AWS
keeps its customers' secrets server-side too). Encrypting it would need a key the server
can read as well; kept in the same configuration or database, it would protect nothing,
and kept apart it is one more secret to lose. So the database of a server with access keys
must be protected as the keys themselves are; revoking the token deletes its keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from botocore.utils import normalize_url_path

from slipway.sagemaker.protocol import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _denied(aws_type: str, message: str) -> AwsError:
    return AwsError(403, aws_type, message)


@dataclass(frozen=True)
class Credential:
    """What an ``Authorization: AWS4-HMAC-SHA256 ...`` header says."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SignedRequest:
    method: str
    raw_path: str
    query_string: str
    headers: list[tuple[str, str]]  # lower-case names, in the order received
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def parse_authorization(header: str) -> Credential:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise _denied(
            "IncompleteSignatureException",
            f"authorization scheme {algorithm!r} is not supported; sign with {ALGORITHM}",
        )
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    scope = fields.get("Credential", "").split("/")
    if (
        len(scope) != 5
        or scope[4] != "aws4_request"
        or not all(fields.get(name) for name in ("SignedHeaders", "Signature"))
    ):
        raise _denied(
            "IncompleteSignatureException",
            "the Authorization header must have Credential=KEY/DATE/REGION/SERVICE/aws4_request, "
            "SignedHeaders=... and Signature=...",
        )
    return Credential(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def verify(
    request: SignedRequest, credential: Credential, secret: str, service: str, now: dt.datetime
) -> None:
    """Raise AwsError (403) unless ``credential`` signed ``request`` with ``secret`` lately."""
    if credential.service != service:
        raise _denied(
            "InvalidSignatureException",
            f"the credential scope names the service {credential.service!r}; "
            f"requests here are signed for {service!r}",
        )
    for needed in ("host", "x-amz-date"):
        if needed not in credential.signed_headers:
            raise _denied("InvalidSignatureException", f"the header {needed!r} must be signed")
    amz_date = (request.header("x-amz-date") or [""])[0]
    try:
        signed_at = dt.datetime.strptime(amz_date, _DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise _denied(
            "IncompleteSignatureException",
            f"X-Amz-Date {amz_date!r} is not a time of the form 20260101T120000Z",
        ) from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise _denied(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is more than 15 minutes from the server's time "
            f"{now:{_DATE_FORMAT}}; check the client's clock",
        )
    if credential.date != amz_date[:8]:
        raise _denied(
            "InvalidSignatureException",
            f"the credential scope's date {credential.date!r} is not the day of X-Amz-Date",
        )
    expected = signature(request, credential, secret, amz_date)
    if not hmac.compare_digest(expected, credential.signature):
        raise _denied(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            f"Check the secret access key of {credential.access_key_id!r} and the signing "
            "method.",
        )


def signature(request: SignedRequest, credential: Credential, secret: str, amz_date: str) -> str:
    to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            credential.scope,
            hashlib.sha256(canonical_request(request, credential).encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in (credential.date, credential.region, credential.service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def canonical_request(request: SignedRequest, credential: Credential) -> str:
    headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in request.header(name))}\n"
        for name in credential.signed_headers
    )
    payload = (request.header("x-amz-content-sha256") or [""])[0]
    return "\n".join(
        [
            request.method,
            quote(normalize_url_path(request.raw_path), safe="/~"),
            _canonical_query(request.query_string),
            headers,
            ";".join(credential.signed_headers),
            payload or hashlib.sha256(request.body).hexdigest(),
        ]
    )


def _canonical_query(query: str) -> str:
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&") if pair)
    return "&".join(f"{key}={value}" for key, value in pairs)
