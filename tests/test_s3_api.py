"""The S3 endpoint with the real, unmodified boto3 client against `slipway server`.

One server on PostgreSQL for the module, with authentication on: an editor's and a
viewer's access key, made by `slipway token create NAME --access-key`. boto3 reaches the
endpoint at http://HOST:PORT/s3, path-style. Tests keep apart by unique bucket names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import os
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from helpers import fresh_database, run_slipway_server
from test_sagemaker_api import SLIPWAY, Keys, _create_access_key

pytestmark = pytest.mark.postgres

MB = 1024 * 1024


@dataclass
class Server:
    url: str
    home: Path
    database_url: str
    admin_token: str
    editor: Keys
    viewer: Keys

    @property
    def s3_url(self) -> str:
        return f"{self.url}/s3"


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("s3-home")
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    with fresh_database(postgres_url) as database_url:
        admin = subprocess.run(
            [SLIPWAY, "token", "create", "admin", "--role", "admin"],
            env={**env, "SLIPWAY_DATABASE_URL": database_url},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        editor = _create_access_key(database_url, home, "uploader", "editor")
        viewer = _create_access_key(database_url, home, "reader", "viewer")
        with run_slipway_server(database_url, home) as (url, _):
            yield Server(url, home, database_url, admin.stdout.strip(), editor, viewer)


def _client(server: Server, keys: Keys | None = None) -> Any:
    keys = keys or server.editor
    return boto3.client(
        "s3",
        endpoint_url=server.s3_url,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=Config(
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        ),
    )


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return _client(server)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"data-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# --- buckets ------------------------------------------------------------------------------


def test_a_bucket_is_created_found_listed_and_deleted(s3: Any) -> None:
    name = f"made-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None  # us-east-1
    listed = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
    assert abs(listed[name] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

    s3.delete_bucket(Bucket=name)

    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket=name)
    assert _error(missing)[0] == 404
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_bucket_errors_have_s3s_codes(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as twice:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as no_bucket:
        s3.delete_bucket(Bucket="no-such-bucket-here")
    with pytest.raises(ClientError) as bad_name:
        s3.create_bucket(Bucket="Not_A_Bucket")

    assert _error(twice) == (409, "BucketAlreadyOwnedByYou")
    assert _error(not_empty) == (409, "BucketNotEmpty")
    assert _error(no_bucket) == (404, "NoSuchBucket")
    assert _error(bad_name) == (400, "InvalidArgument")
    assert "Not_A_Bucket" in bad_name.value.response["Error"]["Message"]


# --- objects ------------------------------------------------------------------------------


def test_an_object_is_put_read_whole_and_in_ranges_and_deleted(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 40
    put = s3.put_object(Bucket=bucket, Key="blobs/one.bin", Body=data)

    head = s3.head_object(Bucket=bucket, Key="blobs/one.bin")
    whole = s3.get_object(Bucket=bucket, Key="blobs/one.bin")
    middle = s3.get_object(Bucket=bucket, Key="blobs/one.bin", Range="bytes=100-199")
    tail = s3.get_object(Bucket=bucket, Key="blobs/one.bin", Range="bytes=-10")

    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]
    assert whole["Body"].read() == data and whole["ETag"] == put["ETag"]
    assert middle["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert middle["ContentRange"] == f"bytes 100-199/{len(data)}"
    assert middle["Body"].read() == data[100:200]
    assert tail["Body"].read() == data[-10:]

    s3.delete_object(Bucket=bucket, Key="blobs/one.bin")
    with pytest.raises(ClientError) as gone:
        s3.get_object(Bucket=bucket, Key="blobs/one.bin")
    assert _error(gone) == (404, "NoSuchKey")
    s3.delete_object(Bucket=bucket, Key="blobs/one.bin")  # as in S3: no error


def test_object_errors_have_s3s_codes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"tiny")
    with pytest.raises(ClientError) as no_bucket:
        s3.put_object(Bucket="no-such-bucket-here", Key="a.txt", Body=b"x")
    with pytest.raises(ClientError) as head_missing:
        s3.head_object(Bucket=bucket, Key="missing.txt")
    with pytest.raises(ClientError) as past_end:
        s3.get_object(Bucket=bucket, Key="small.txt", Range="bytes=10-20")

    assert _error(no_bucket) == (404, "NoSuchBucket")
    assert _error(head_missing)[0] == 404
    assert _error(past_end) == (416, "InvalidRange")


def test_objects_are_copied_and_deleted_in_batches(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src.txt", Body=b"copy me")
    s3.copy_object(
        Bucket=bucket, Key="dst/copy.txt", CopySource={"Bucket": bucket, "Key": "src.txt"}
    )
    assert s3.get_object(Bucket=bucket, Key="dst/copy.txt")["Body"].read() == b"copy me"

    deleted = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "src.txt"}, {"Key": "dst/copy.txt"}, {"Key": "../bad"}]},
    )

    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["dst/copy.txt", "src.txt"]
    assert [(e["Key"], e["Code"]) for e in deleted["Errors"]] == [("../bad", "InvalidArgument")]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_listing_pages_with_prefix_delimiter_and_continuation(s3: Any, bucket: str) -> None:
    keys = ["a/1.csv", "a/2.csv", "a/deep/3.csv", "b/4.csv", "top.csv"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    folders = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    inside_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}
    )
    paged = [[item["Key"] for item in page.get("Contents", [])] for page in pages]

    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in folders["Contents"]] == ["top.csv"]
    assert [o["Key"] for o in inside_a["Contents"]] == ["a/1.csv", "a/2.csv"]
    assert [p["Prefix"] for p in inside_a["CommonPrefixes"]] == ["a/deep/"]
    assert paged == [keys[0:2], keys[2:4], keys[4:]]
    assert {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == {
        key: len(key) for key in keys
    }
    first_version = s3.list_objects(Bucket=bucket, Prefix="a/", MaxKeys=2)
    assert [o["Key"] for o in first_version["Contents"]] == ["a/1.csv", "a/2.csv"]
    assert first_version["IsTruncated"] is True
    with pytest.raises(ClientError) as bad_token:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="%%%not-a-token")
    assert _error(bad_token) == (400, "InvalidArgument")


# --- multipart uploads --------------------------------------------------------------------


def test_upload_file_and_download_file_move_20_mb_in_parts(
    s3: Any, bucket: str, server: Server, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MB))
    target = tmp_path / "back.bin"

    s3.upload_file(str(source), bucket, "models/big.bin")
    head = s3.head_object(Bucket=bucket, Key="models/big.bin")
    s3.download_file(bucket, "models/big.bin", str(target))

    assert head["ContentLength"] == 20 * MB
    assert target.read_bytes() == source.read_bytes()
    # The parts were joined into one file of the store, and nothing of the upload is left.
    stored = server.home / "artifacts" / "buckets" / bucket / "models" / "big.bin"
    assert stored.read_bytes() == source.read_bytes()
    assert not list((server.home / "artifacts" / "multipart-uploads").iterdir())


def test_multipart_upload_parts_are_listed_checked_and_aborted(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts.bin")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=1,
                           Body=b"a" * (5 * MB))  # fmt: skip
    s3.upload_part(Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=2, Body=b"b")
    listed = s3.list_parts(Bucket=bucket, Key="parts.bin", UploadId=upload)["Parts"]

    with pytest.raises(ClientError) as wrong_etag:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="parts.bin", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]},
        )  # fmt: skip
    s3.abort_multipart_upload(Bucket=bucket, Key="parts.bin", UploadId=upload)
    with pytest.raises(ClientError) as aborted:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="parts.bin", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["ETag"]}]},
        )  # fmt: skip

    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MB), (2, 1)]
    assert listed[0]["ETag"] == first["ETag"]
    assert _error(wrong_etag) == (400, "InvalidPart")
    assert _error(aborted) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as never_written:
        s3.head_object(Bucket=bucket, Key="parts.bin")
    assert _error(never_written)[0] == 404


# --- authentication and roles -------------------------------------------------------------


def test_a_presigned_get_downloads_without_credentials(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"for anyone with the link")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=60
    )
    tampered = url.replace("shared.txt", "other.txt")

    short_lived = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=1
    )

    assert httpx.get(url).content == b"for anyone with the link"
    refused = httpx.get(tampered)
    assert refused.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.content
    time.sleep(2)
    expired = httpx.get(short_lived)
    assert expired.status_code == 403 and b"Request has expired" in expired.content


def test_a_bad_signature_is_refused(server: Server, bucket: str) -> None:
    wrong = _client(server, Keys(server.editor.access_key_id, "not-the-secret"))
    unknown = _client(server, Keys("AKIDNOTKNOWN", "whatever"))
    with pytest.raises(ClientError) as bad_secret:
        wrong.list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as bad_key:
        unknown.put_object(Bucket=bucket, Key="x.txt", Body=b"x")
    unsigned = httpx.get(f"{server.s3_url}/{bucket}")

    assert _error(bad_secret) == (403, "SignatureDoesNotMatch")
    assert _error(bad_key) == (403, "InvalidAccessKeyId")
    assert unsigned.status_code == 403 and b"<Code>AccessDenied</Code>" in unsigned.content


def test_a_viewer_reads_but_may_not_write(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="report.txt", Body=b"read me")
    viewer = _client(server, server.viewer)

    assert viewer.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == b"read me"
    with pytest.raises(ClientError) as put:
        viewer.put_object(Bucket=bucket, Key="mine.txt", Body=b"x")
    with pytest.raises(ClientError) as delete:
        viewer.delete_object(Bucket=bucket, Key="report.txt")
    with pytest.raises(ClientError) as create:
        viewer.create_bucket(Bucket=f"viewers-{uuid.uuid4().hex[:8]}")

    assert _error(put) == (403, "AccessDenied")
    assert "viewer" in put.value.response["Error"]["Message"]
    assert _error(delete) == (403, "AccessDenied")
    assert _error(create) == (403, "AccessDenied")


# --- keys never leave the store -----------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "a/b\x00c", "a\\..\\b"]
)
def test_keys_that_would_escape_the_store_are_refused(
    s3: Any, bucket: str, server: Server, key: str
) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key=key, Body=b"escape")
    assert _error(refused) == (400, "InvalidArgument")
    assert "expected a relative POSIX path" in refused.value.response["Error"]["Message"]
    assert not list(server.home.parent.rglob("outside.txt"))


def test_a_percent_encoded_traversal_is_refused(server: Server, bucket: str) -> None:
    # botocore would encode '..' as is; a hand-made request may hide it as %2E%2E.
    client = _client(server)
    request = AWSRequest(method="PUT", url=f"{server.s3_url}/{bucket}/%2E%2E/%2E%2E/x.txt",
                         data=b"escape")  # fmt: skip
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"escape").hexdigest()
    credentials = client._request_signer._credentials  # boto3's own, as the client signs
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)

    answer = httpx.put(request.url, content=b"escape", headers=dict(request.headers))

    assert answer.status_code == 400 and b"<Code>InvalidArgument</Code>" in answer.content
    assert not list(server.home.rglob("x.txt"))


# --- the bytes are checked as they stream ---------------------------------------------------


def _signed_put(server: Server, url: str, body: Any, headers: dict[str, str],
                context: dict[str, Any]) -> httpx.Response:  # fmt: skip
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    request.context.update(context)
    keys = server.editor
    credentials = Credentials(keys.access_key_id, keys.secret_access_key)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    content = body.read() if hasattr(body, "read") else body
    return httpx.put(url, content=content, headers=dict(request.headers))


def test_an_aws_chunked_upload_with_a_trailing_checksum_is_decoded(
    server: Server, s3: Any, bucket: str
) -> None:
    """What botocore sends over HTTPS: STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked."""
    data = os.urandom(3 * MB + 17)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }
    trailer = {"checksum": {"request_algorithm": {"in": "trailer", "name": "x-amz-checksum-crc32",
                                                  "algorithm": "crc32"}}}  # fmt: skip

    def chunked() -> AwsChunkedWrapper:
        return AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32")

    url = f"{server.s3_url}/{bucket}/chunked.bin"
    stored = _signed_put(server, url, chunked(), headers, trailer)
    corrupt = chunked().read().replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:AAAA")
    broken = _signed_put(server, f"{url}.corrupt", corrupt, headers, trailer)

    assert stored.status_code == 200, stored.text
    assert s3.get_object(Bucket=bucket, Key="chunked.bin")["Body"].read() == data
    assert broken.status_code == 400 and b"<Code>BadDigest</Code>" in broken.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="chunked.bin.corrupt")


class _SignedChunksAuth(S3SigV4Auth):
    """botocore's signer, stating the payload form of SDKs that sign each chunk."""

    def payload(self, request: AWSRequest) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _signed_chunks(server: Server, request: AWSRequest, chunks: list[bytes]) -> bytes:
    """The aws-chunked body, each chunk signed after the one before, as AWS documents it."""
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = f"AWS4{server.editor.secret_access_key}".encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    previous = request.headers["Authorization"].rpartition("Signature=")[2]
    body = b""
    for chunk in [*chunks, b""]:
        hashes = [hashlib.sha256(b"").hexdigest(), hashlib.sha256(chunk).hexdigest()]
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, *hashes])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return body


def test_an_upload_whose_chunks_are_signed_is_checked_chunk_by_chunk(
    server: Server, s3: Any, bucket: str
) -> None:
    chunks = [os.urandom(64 * 1024), os.urandom(1000)]
    data = b"".join(chunks)

    def send(key: str, tamper: bool = False) -> httpx.Response:
        url = f"{server.s3_url}/{bucket}/{key}"
        headers = {"Content-Encoding": "aws-chunked",
                   "X-Amz-Decoded-Content-Length": str(len(data))}  # fmt: skip
        request = AWSRequest(method="PUT", url=url, headers=headers)
        keys = server.editor
        credentials = Credentials(keys.access_key_id, keys.secret_access_key)
        _SignedChunksAuth(credentials, "s3", "us-east-1").add_auth(request)
        body = _signed_chunks(server, request, chunks)
        if tamper:
            body = body.replace(chunks[1][:8], bytes(8))
        return httpx.put(url, content=body, headers=dict(request.headers))

    stored = send("signed.bin")
    tampered = send("tampered.bin", tamper=True)

    assert stored.status_code == 200, stored.text
    assert s3.get_object(Bucket=bucket, Key="signed.bin")["Body"].read() == data
    assert tampered.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in tampered.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered.bin")


def test_a_body_that_does_not_match_its_signed_hash_is_not_stored(
    server: Server, s3: Any, bucket: str
) -> None:
    url = f"{server.s3_url}/{bucket}/swapped.txt"
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(b"what was signed").hexdigest()}
    request = AWSRequest(method="PUT", url=url, data=b"what was signed", headers=headers)
    keys = server.editor
    S3SigV4Auth(Credentials(keys.access_key_id, keys.secret_access_key), "s3",
                "us-east-1").add_auth(request)  # fmt: skip

    answer = httpx.put(url, content=b"something else!", headers=dict(request.headers))

    assert answer.status_code == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in answer.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="swapped.txt")


# --- one object, whoever reads it -----------------------------------------------------------

TRAIN_SCRIPT = """
import os, pathlib
rows = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"], "rows.csv").read_text()
pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained on " + rows)
"""


def _tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_training_job_reads_and_writes_the_buckets_as_s3_uris(
    server: Server, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz",
                  Body=_tarball({"train.py": TRAIN_SCRIPT}))  # fmt: skip
    s3.put_object(Bucket=bucket, Key="data/train/rows.csv", Body=b"1,2,3")
    name = f"s3-job-{uuid.uuid4().hex[:8]}"
    api = httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=30,
    )

    created = api.post(
        "/training-jobs",
        json={
            "TrainingJobName": name,
            "EntryPoint": "train.py",
            "SourceUri": f"s3://{bucket}/code/sourcedir.tar.gz",
            "InputDataConfig": {"train": {"Uri": f"s3://{bucket}/data/train/"}},
            "OutputPath": f"s3://{bucket}/output",
        },
    )
    assert created.status_code == 201, created.text
    job = _wait(lambda: api.get(f"/training-jobs/{name}").json())

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{bucket}/output/{name}/output/model.tar.gz"
    packed = s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        member = archive.extractfile("model.txt")
        assert member is not None and member.read() == b"trained on 1,2,3"


def _wait(describe: Callable[[], dict[str, Any]], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = describe()
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, f"the job is still {job['TrainingJobStatus']}"
        time.sleep(0.2)


def test_an_object_uploaded_through_s3_is_an_artifact_at_its_s3_uri(
    server: Server, s3: Any, bucket: str
) -> None:
    from slipway.artifacts.service import ArtifactService
    from slipway.store.artifacts import ArtifactStore
    from slipway.store.db import open_database

    data = b"id,label\n1,0\n"
    s3.put_object(Bucket=bucket, Key="tables/train.csv", Body=data)
    database = open_database(server.database_url)
    artifacts = ArtifactService(database, ArtifactStore(str(server.home / "artifacts")))

    record = artifacts.record(f"s3://{bucket}/tables/train.csv")

    assert b"".join(artifacts.open(f"s3://{bucket}/tables/train.csv")) == data
    assert (record.size, record.sha256) == (len(data), hashlib.sha256(data).hexdigest())
