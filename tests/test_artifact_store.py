"""The artifact store keeps the same promises on a local folder and on a real S3 server."""

from __future__ import annotations

import gc
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from helpers import free_port
from slipway.errors import Conflict, NotFound, ValidationError
from slipway.store.artifacts import ArtifactStore

BUCKET = "slipway-artifacts"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 with one empty bucket; yield its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """An empty store: a fresh folder, or a fresh prefix in the S3 server's bucket."""
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"))
    endpoint = request.getfixturevalue("s3_endpoint")
    return ArtifactStore(
        f"s3://{BUCKET}/{uuid.uuid4().hex}",
        key="test",
        secret="test",
        client_kwargs={"endpoint_url": endpoint},
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _failing_stream(good_bytes: int) -> Iterator[bytes]:
    for _ in range(good_bytes // MIB):
        yield b"x" * MIB
    yield b"x" * (good_bytes % MIB)
    raise RuntimeError("the producer crashed")


def test_bytes_round_trip_with_size_sha256_and_uri(store: ArtifactStore) -> None:
    data = b"pickled model \x00\xff" * 100

    info = store.put_bytes("experiments/tc-1/model.pkl", data)

    assert store.get_bytes("experiments/tc-1/model.pkl") == data
    assert (info.key, info.size, info.sha256) == (
        "experiments/tc-1/model.pkl",
        len(data),
        _sha256(data),
    )
    assert info.uri == store.uri_for("experiments/tc-1/model.pkl")
    assert info.uri.startswith(("file:///", f"s3://{BUCKET}/"))
    assert info.uri.endswith("/experiments/tc-1/model.pkl")
    assert store.size("experiments/tc-1/model.pkl") == len(data)


def test_file_round_trip_through_put_file_and_get_file(
    store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "metrics.json"
    source.write_bytes(b'{"auc": 0.91}')

    info = store.put_file("runs/1/metrics.json", source)
    store.get_file("runs/1/metrics.json", tmp_path / "download" / "metrics.json")

    assert (tmp_path / "download" / "metrics.json").read_bytes() == b'{"auc": 0.91}'
    assert info.sha256 == _sha256(b'{"auc": 0.91}')


def test_stream_round_trip_stores_the_concatenated_chunks(store: ArtifactStore) -> None:
    info = store.put_stream("data/part.csv", iter([b"a,b\n", b"", b"1,2\n", bytearray(b"3,4\n")]))

    assert store.get_bytes("data/part.csv") == b"a,b\n1,2\n3,4\n"
    assert (info.size, info.sha256) == (12, _sha256(b"a,b\n1,2\n3,4\n"))


def test_empty_stream_stores_an_empty_artifact(store: ArtifactStore) -> None:
    info = store.put_stream("empty.bin", iter([]))

    assert store.get_bytes("empty.bin") == b""
    assert (info.size, info.sha256) == (0, _sha256(b""))


def test_fifty_megabyte_stream_is_stored_and_read_back_in_chunks(store: ArtifactStore) -> None:
    expected = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        for number in range(50):
            chunk = bytes([number]) * MIB
            expected.update(chunk)
            yield chunk

    info = store.put_stream("big/weights.bin", chunks())
    read_back, sizes = hashlib.sha256(), []
    for chunk in store.iter_bytes("big/weights.bin", chunk_size=MIB):
        read_back.update(chunk)
        sizes.append(len(chunk))

    assert (info.size, info.sha256) == (50 * MIB, expected.hexdigest())
    assert read_back.hexdigest() == expected.hexdigest()
    assert max(sizes) <= MIB and sum(sizes) == 50 * MIB


BAD_KEYS = {
    "empty": "",
    "absolute": "/etc/passwd",
    "parent segment": "experiments/../secrets",
    "leading parent": "../outside",
    "dot segment": "experiments/./model.pkl",
    "backslash": "experiments\\model.pkl",
    "empty segment": "experiments//model.pkl",
    "trailing slash": "experiments/",
    "nul": "model\x00.pkl",
    "newline": "model\n.pkl",
    "delete char": "model\x7f.pkl",
    "reserved suffix": "model.pkl.slipway-partial",
}


@pytest.mark.parametrize("bad_key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_every_kind_of_bad_key_is_refused_with_a_message_naming_it(
    store: ArtifactStore, bad_key: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        store.put_bytes(bad_key, b"data")

    assert repr(bad_key) in refused.value.message
    assert "expected a relative POSIX path" in refused.value.message
    assert store.list() == []


@pytest.mark.parametrize(
    "operation",
    [
        lambda store: store.get_bytes("../x"),
        lambda store: store.open("/x"),
        lambda store: store.iter_bytes("a//b"),
        lambda store: store.exists("a/./b"),
        lambda store: store.size("a\\b"),
        lambda store: store.delete(""),
        lambda store: store.uri_for("a/../b"),
        lambda store: store.list("../"),
        lambda store: store.delete_prefix("a/.."),
    ],
)
def test_reads_listings_and_deletes_validate_keys_too(
    store: ArtifactStore, operation: Callable[[ArtifactStore], object]
) -> None:
    with pytest.raises(ValidationError):
        operation(store)


def test_failed_stream_leaves_no_object_under_the_key(store: ArtifactStore) -> None:
    with pytest.raises(RuntimeError, match="the producer crashed"):
        store.put_stream("models/half.bin", _failing_stream(3 * MIB))
    gc.collect()  # s3fs files publish what they buffered when collected; they must not

    assert not store.exists("models/half.bin")
    assert store.list() == []


def test_failed_stream_keeps_the_previous_artifact(store: ArtifactStore) -> None:
    store.put_bytes("models/current.bin", b"version 1")

    with pytest.raises(RuntimeError):
        store.put_stream("models/current.bin", _failing_stream(10))
    gc.collect()

    assert store.get_bytes("models/current.bin") == b"version 1"


def test_failed_multipart_stream_leaves_no_object_under_the_key(store: ArtifactStore) -> None:
    # Past s3fs's 50 MiB block size, so a multipart upload has begun when the producer fails.
    with pytest.raises(RuntimeError):
        store.put_stream("models/huge.bin", _failing_stream(51 * MIB))
    gc.collect()

    assert store.list() == []


def test_artifact_stays_invisible_until_its_stream_completes(store: ArtifactStore) -> None:
    seen_midway: list[object] = []

    def chunks() -> Iterator[bytes]:
        yield b"first half "
        seen_midway.extend([store.exists("report.html"), store.list()])
        yield b"second half"

    store.put_stream("report.html", chunks())

    assert seen_midway == [False, []]
    assert store.get_bytes("report.html") == b"first half second half"


def test_put_replaces_an_existing_artifact(store: ArtifactStore) -> None:
    store.put_bytes("model.pkl", b"old")

    info = store.put_bytes("model.pkl", b"newer")

    assert store.get_bytes("model.pkl") == b"newer"
    assert info.size == 5


def test_list_returns_sorted_keys_below_a_folder_prefix(store: ArtifactStore) -> None:
    for key in ["b.txt", "a/y/z.txt", "ab/w.txt", "a/x.txt"]:
        store.put_bytes(key, b"1")

    assert store.list() == ["a/x.txt", "a/y/z.txt", "ab/w.txt", "b.txt"]
    assert store.list("a") == ["a/x.txt", "a/y/z.txt"]
    assert store.list("a/") == ["a/x.txt", "a/y/z.txt"]
    assert store.list("a/y") == ["a/y/z.txt"]
    assert store.list("missing") == []


def test_exists_is_true_only_for_stored_artifacts(store: ArtifactStore) -> None:
    store.put_bytes("a/x.txt", b"1")

    assert store.exists("a/x.txt")
    assert not store.exists("a")  # a folder, not an artifact
    assert not store.exists("a/missing.txt")


def test_delete_removes_one_artifact(store: ArtifactStore) -> None:
    store.put_bytes("a/x.txt", b"1")
    store.put_bytes("a/y.txt", b"2")

    store.delete("a/x.txt")

    assert store.list() == ["a/y.txt"]
    with pytest.raises(NotFound, match=re.escape("'a/x.txt'")):
        store.delete("a/x.txt")


def test_delete_prefix_removes_everything_below_it_and_nothing_else(
    store: ArtifactStore,
) -> None:
    for key in ["exp/1/model.pkl", "exp/1/logs/train.log", "exp/10/model.pkl", "exp/2.txt"]:
        store.put_bytes(key, b"1")

    deleted = store.delete_prefix("exp/1")

    assert deleted == 2
    assert store.list() == ["exp/10/model.pkl", "exp/2.txt"]
    assert store.delete_prefix("exp/1") == 0


def test_delete_prefix_refuses_to_wipe_the_whole_store(store: ArtifactStore) -> None:
    store.put_bytes("keep.txt", b"1")

    for everything in ["", "/"]:
        with pytest.raises(ValidationError):
            store.delete_prefix(everything)

    assert store.list() == ["keep.txt"]


@pytest.mark.parametrize(
    "read",
    [
        lambda store, key, _: store.get_bytes(key),
        lambda store, key, _: store.open(key),
        lambda store, key, _: store.iter_bytes(key),
        lambda store, key, folder: store.get_file(key, folder / "out.bin"),
        lambda store, key, _: store.size(key),
        lambda store, key, _: store.delete(key),
    ],
    ids=["get_bytes", "open", "iter_bytes", "get_file", "size", "delete"],
)
@pytest.mark.parametrize("key", ["nothing/here.bin", "experiments"])
def test_missing_key_raises_not_found_naming_it(
    store: ArtifactStore,
    tmp_path: Path,
    read: Callable[[ArtifactStore, str, Path], object],
    key: str,
) -> None:
    store.put_bytes("experiments/tc-1/model.pkl", b"1")  # makes "experiments" a folder

    with pytest.raises(NotFound, match=re.escape(repr(key))):
        read(store, key, tmp_path)

    assert not (tmp_path / "out.bin").exists()


def test_put_file_of_a_missing_local_file_is_not_found(
    store: ArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match="no-such-file"):
        store.put_file("model.pkl", tmp_path / "no-such-file")

    assert store.list() == []


def test_local_failed_write_leaves_no_temporary_file_on_disk(tmp_path: Path) -> None:
    store = ArtifactStore(f"file://{tmp_path}")

    with pytest.raises(RuntimeError):
        store.put_stream("models/half.bin", _failing_stream(MIB))

    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_local_key_cannot_be_both_a_file_and_a_folder(tmp_path: Path) -> None:
    # S3 allows "a" and "a/b" side by side; a folder cannot, so the store says so plainly.
    store = ArtifactStore(str(tmp_path))
    store.put_bytes("a/b", b"1")
    store.put_bytes("c", b"2")

    with pytest.raises(Conflict):
        store.put_bytes("a", b"3")
    with pytest.raises(Conflict):
        store.put_bytes("c/d", b"4")

    assert store.list() == ["a/b", "c"]
