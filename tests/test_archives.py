"""Every archive slipway unpacks goes through one function that writes only inside its folder.

Malicious archives are built here with tarfile, member by member. Each must be refused
with an error naming the member, and leave everything outside the folder as it was: a
sentinel file keeps its content and no new file appears. Then each caller (an endpoint's
model, a training job's source, an AutoML ensemble's members) meets the worst of them.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from serving_support import deploy, remote, slipway_server
from slipway.archives import ArchiveError, unpack_archive
from slipway.automl import _data
from slipway.automl._requests import CandidateSetup, source_tarball
from slipway.jobs.models import JobStatus
from slipway.platform import services, training_backend
from slipway.settings import Settings
from slipway.training.models import Channel, CreateTrainingJob

Member = tuple[tarfile.TarInfo, bytes]

# The first releases whose tarfile resolves link targets without the PATH_MAX overflow.
_FIXED_RELEASES = {(3, 9): (3, 9, 23), (3, 10): (3, 10, 18), (3, 11): (3, 11, 13),
                   (3, 12): (3, 12, 11), (3, 13): (3, 13, 4)}  # fmt: skip
TARFILE_FIXED = sys.version_info >= _FIXED_RELEASES.get(sys.version_info[:2], (3, 14))


def member(
    name: str,
    data: bytes = b"",
    *,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    mode: int = 0o644,
) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def archive(path: Path, members: list[Member], compression: str = "gz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, f"w:{compression}", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def symlink_chain(extracted_at: Path, escape_to: Path) -> list[Member]:
    """The archive of CVE-2025-4517: links whose expansion outgrows PATH_MAX hide an escape.

    Unpacked at ``extracted_at`` by tarfile's "data" filter on an unfixed Python, it
    overwrites ``escape_to/flag`` through a hard link and writes ``escape_to/newfile``.
    """
    steps = "abcdefghijklmnop"
    # Long enough that the last link, expanded, overflows PATH_MAX (os.path.realpath then
    # stops resolving and the filter's check passes), short enough that each folder fits.
    width = (os.pathconf("/", "PC_PATH_MAX") - 128 - len(str(extracted_at))) // len(steps) - 1
    folder, path, members = "d" * width, "", []
    for step in steps:
        members.append(member(os.path.join(path, folder), kind=tarfile.DIRTYPE, mode=0o755))
        members.append(member(os.path.join(path, step), kind=tarfile.SYMTYPE, linkname=folder))
        path = os.path.join(path, folder)
    long_link = os.path.join(*steps, "l" * 254)
    climb = os.path.relpath(escape_to, extracted_at)
    return [
        *members,
        member(long_link, kind=tarfile.SYMTYPE, linkname=os.path.join(*[".."] * len(steps))),
        member("escape", kind=tarfile.SYMTYPE, linkname=os.path.join(long_link, climb)),
        member("flaglink", kind=tarfile.LNKTYPE, linkname="escape/flag"),
        member("flaglink", b"overwritten"),
        member("escape/newfile", b"new"),
    ]


def snapshot(root: Path) -> dict[str, str | bytes]:
    """Every path under ``root``: a file's content, a link's target or a folder's mark."""
    found: dict[str, str | bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path)] = f"link to {os.readlink(path)}"
        elif path.is_dir():
            found[str(path)] = "folder"
        else:
            found[str(path)] = path.read_bytes()
    return found


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the one archives are unpacked into, with a sentinel file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "flag").write_text("original")
    return folder


def assert_untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["flag"]
    assert (outside / "flag").read_text() == "original"


# --- the hole -------------------------------------------------------------------------------


@pytest.mark.skipif(TARFILE_FIXED, reason="this Python's tarfile has the CVE-2025-4517 fix")
def test_the_data_filter_of_tarfile_lets_a_symlink_chain_write_outside_on_this_python(
    tmp_path: Path, outside: Path
) -> None:
    target = tmp_path / "unpacked"
    target.mkdir()
    chain = archive(tmp_path / "chain.tar.gz", symlink_chain(target, outside))
    with tarfile.open(chain) as tar:
        tar.extractall(target, filter="data")
    assert (outside / "flag").read_text() == "overwritten"
    assert (outside / "newfile").read_text() == "new"


# --- refused members ------------------------------------------------------------------------

MALICIOUS: dict[str, tuple[Callable[[Path, Path], list[Member]], str, str]] = {
    # id: (members, given the folder unpacked into and the outside folder; member; problem)
    "symlink-chain": (symlink_chain, "a", "is a symbolic link"),
    "symlink-out": (
        lambda target, outside: [
            member("link", kind=tarfile.SYMTYPE, linkname=str(outside)),
            member("link/newfile", b"new"),
        ],
        "link", "is a symbolic link (to '",
    ),
    "hardlink-out": (
        lambda target, outside: [
            member("hard", kind=tarfile.LNKTYPE, linkname=str(outside / "flag")),
            member("hard", b"overwritten"),
        ],
        "hard", "is a hard link",
    ),
    "dotdot": (
        lambda target, outside: [member("../outside/newfile", b"new")],
        "../outside/newfile", "has '..' in its name",
    ),
    "dotdot-inside": (
        lambda target, outside: [member("model/../../outside/newfile", b"new")],
        "model/../../outside/newfile", "has '..' in its name",
    ),
    "absolute": (
        lambda target, outside: [member(str(outside / "newfile"), b"new")],
        "/newfile", "has an absolute name",
    ),
    "device": (
        lambda target, outside: [member("null", kind=tarfile.CHRTYPE)],
        "null", "is a device node",
    ),
    "fifo": (
        lambda target, outside: [member("pipe", kind=tarfile.FIFOTYPE)],
        "pipe", "is a FIFO",
    ),
    "duplicate-file": (
        lambda target, outside: [member("model.joblib", b"one"), member("model.joblib", b"two")],
        "model.joblib", "would overwrite",
    ),
    "file-over-folder": (
        lambda target, outside: [member("code", kind=tarfile.DIRTYPE), member("code", b"x")],
        "code", "would overwrite",
    ),
    "folder-through-file": (
        lambda target, outside: [member("code", b"x"), member("code/inference.py", b"x")],
        "code/inference.py", "needs 'code' to be a folder",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", MALICIOUS, ids=list(MALICIOUS))
def test_a_malicious_member_is_refused_by_name_and_nothing_is_written(
    tmp_path: Path, outside: Path, case: str
) -> None:
    build, name, problem = MALICIOUS[case]
    target = tmp_path / "unpacked"
    bad = archive(tmp_path / "archives" / "model.tar.gz", build(target, outside))
    before = snapshot(tmp_path)

    with pytest.raises(ArchiveError) as refused:
        unpack_archive(bad, target, name="s3://models/model.tar.gz")

    message = str(refused.value)
    assert message.startswith("cannot unpack the archive 's3://models/model.tar.gz': member '")
    assert f"{name}' {problem}" in message
    assert snapshot(tmp_path) == before  # no target, no leftover, nothing outside
    assert_untouched(outside)


def test_an_archive_that_decodes_past_the_size_limit_is_refused_before_it_is_written(
    tmp_path: Path, outside: Path
) -> None:
    # 64 MiB of zeros: a few hundred kilobytes once compressed.
    bomb = archive(tmp_path / "bomb.tar.gz", [member("zeros.bin", bytes(64 * 1024 * 1024))])
    assert bomb.stat().st_size < 1024 * 1024
    before = snapshot(tmp_path)
    limits = Settings(home=tmp_path / "home", max_archive_bytes=16 * 1024 * 1024)

    with pytest.raises(
        ArchiveError, match=r"member 'zeros\.bin' takes the archive past the 16777216"
    ):
        unpack_archive(bomb, tmp_path / "unpacked", name="bomb.tar.gz", settings=limits)
    assert snapshot(tmp_path) == before


def test_the_size_limit_counts_every_member(tmp_path: Path) -> None:
    parts = [member(f"part-{i}", bytes(1024 * 1024)) for i in range(3)]
    limits = Settings(home=tmp_path / "home", max_archive_bytes=5 * 1024 * 1024 // 2)
    with pytest.raises(ArchiveError, match="member 'part-2' takes the archive past"):
        unpack_archive(
            archive(tmp_path / "parts.tar", parts, ""),
            tmp_path / "out",
            name="parts.tar",
            settings=limits,
        )
    assert not (tmp_path / "out").exists()


def test_an_archive_with_too_many_members_is_refused(tmp_path: Path) -> None:
    many = archive(tmp_path / "many.tar.gz", [member(f"f{i}") for i in range(11)])
    limits = Settings(home=tmp_path / "home", max_archive_members=10)
    with pytest.raises(
        ArchiveError,
        match=r"member 'f10' is one more than the 10 members .*max_archive_members",
    ):
        unpack_archive(many, tmp_path / "out", name="many.tar.gz", settings=limits)
    assert not (tmp_path / "out").exists()


def test_an_unreadable_archive_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ArchiveError, match=r"'broken\.tar\.gz'.*it must be a tar archive"):
        unpack_archive(broken, tmp_path / "out", name="broken.tar.gz")
    assert not (tmp_path / "out").exists()


# --- what is unpacked -----------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_files_and_folders_are_unpacked_as_tar_czf_packed_them(
    tmp_path: Path, compression: str
) -> None:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "model.joblib").write_bytes(b"weights")
    (folder / "code" / "inference.py").write_text("def model_fn(model_dir): ...\n")
    (folder / "code" / "run.sh").write_text("#!/bin/sh\n")
    (folder / "code" / "run.sh").chmod(0o755)
    packed = tmp_path / "model.tar"
    with tarfile.open(packed, f"w:{compression}") as tar:
        tar.add(folder, arcname=".")  # `tar czf model.tar.gz -C model .`

    unpack_archive(packed, tmp_path / "unpacked", name="model.tar")

    unpacked = tmp_path / "unpacked"
    assert sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*")) == [
        "code",
        "code/inference.py",
        "code/run.sh",
        "empty",
        "model.joblib",
    ]
    assert (unpacked / "model.joblib").read_bytes() == b"weights"
    assert (unpacked / "code" / "inference.py").read_text() == "def model_fn(model_dir): ...\n"
    assert os.access(unpacked / "code" / "run.sh", os.X_OK)


def test_an_empty_folder_made_ready_is_replaced_by_the_unpacked_one(tmp_path: Path) -> None:
    target = tmp_path / "code"
    target.mkdir()
    unpack_archive(
        archive(tmp_path / "s.tar.gz", [member("train.py", b"print(1)")]), target, name="s.tar.gz"
    )
    assert (target / "train.py").read_text() == "print(1)"


def test_setuid_setgid_sticky_and_write_bits_for_others_are_dropped(tmp_path: Path) -> None:
    modes = archive(
        tmp_path / "modes.tar.gz",
        [
            member("shared", kind=tarfile.DIRTYPE, mode=0o1777),
            member("shared/root-shell", b"#!/bin/sh\n", mode=0o6777),
            member("readonly.txt", b"x", mode=0o444),
        ],
    )
    unpack_archive(modes, tmp_path / "out", name="modes.tar.gz")

    out = tmp_path / "out"
    assert stat.S_IMODE((out / "shared").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "shared" / "root-shell").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "readonly.txt").stat().st_mode) == 0o644


# --- each caller ----------------------------------------------------------------------------


def test_an_endpoint_refuses_a_model_archive_with_a_symlink_chain(
    tmp_path: Path, outside: Path
) -> None:
    home = tmp_path / "home"
    # Where the model cache unpacks: models/<key of 32>.<uuid of 32>.partial.
    unpacked_at = home / "models" / ("k" * 73)
    evil = archive(
        home / "artifacts" / "evil" / "model.tar.gz", symlink_chain(unpacked_at, outside)
    )
    with slipway_server(home) as (url, _process):
        endpoint = deploy(remote(url), "evil", str(evil))

    assert_untouched(outside)
    assert endpoint.endpoint_status == "Failed"
    assert f"cannot unpack the archive '{evil}': member 'a' is a symbolic link" in (
        endpoint.failure_reason
    ), endpoint.failure_reason


def test_a_training_job_whose_source_has_a_symlink_chain_fails_with_the_reason(
    home: Path, outside: Path
) -> None:
    name = "evil-source"
    unpacked_at = home / "jobs" / "training" / name / "code"
    members = [*symlink_chain(unpacked_at, outside), member("train.py", b"print(1)")]
    source = archive(home / "artifacts" / "evil" / "sourcedir.tar.gz", members)
    backend = training_backend()

    backend.create_training_job(
        CreateTrainingJob(training_job_name=name, entry_point="train.py", source_uri=str(source))
    )
    job = backend.wait(name, timeout=120)

    assert_untouched(outside)
    assert job.training_job_status == JobStatus.FAILED
    assert job.failure_reason.startswith(f"ClientError: cannot unpack the archive '{source}'")
    assert "member 'a' is a symbolic link" in job.failure_reason


def test_an_automl_ensemble_refuses_a_member_archive_with_a_symlink_chain(
    home: Path, outside: Path
) -> None:
    job_name, candidate = "evil", "evil-ensemble"
    base = home / "artifacts" / "automl" / job_name
    data = base / "data" / "train.csv"
    data.parent.mkdir(parents=True)
    frame = pd.DataFrame(
        {"x": range(60), "z": [i % 7 for i in range(60)], "y": [2.0 * i + 1 for i in range(60)]}
    )
    frame.to_csv(data, index=False)
    analysis = _data.analyse(frame, "y", None, None)
    settings = {
        "Target": "y",
        "ProblemType": analysis.problem_type,
        "Objective": analysis.objective,
        "Classes": analysis.classes,
        "Plan": analysis.plan,
        "Columns": analysis.features,
    }
    (base / "settings").mkdir()
    (base / "settings" / "settings.json").write_text(json.dumps(settings))
    (base / "source").mkdir()
    (base / "source" / "sourcedir.tar.gz").write_bytes(source_tarball())
    # An earlier candidate's outputs, as the ensemble gets them: one channel per member.
    member_folder = base / "candidates" / "m0"
    unpacked_at = home / "jobs" / "training" / candidate / "input" / "data" / "m0" / "model"
    archive(member_folder / "model.tar.gz", symlink_chain(unpacked_at, outside))
    setup = CandidateSetup(
        job_name=job_name,
        problem_type=analysis.problem_type,
        objective=analysis.objective,
        data_uri=str(data),
        settings_uri=str(base / "settings") + "/",
        source_uri=str(base / "source" / "sourcedir.tar.gz"),
        output_path=str(base / "candidates"),
    )
    channels = {**setup.channels(), "m0": Channel(uri=str(member_folder) + "/")}
    services().experiments.create_experiment(job_name)
    backend = training_backend()

    backend.create_training_job(
        setup.training_job(candidate, {"algorithm": "ensemble"}, channels, 300)
    )
    job = backend.wait(candidate, timeout=180)

    assert_untouched(outside)
    assert job.training_job_status == JobStatus.FAILED
    channel_copy = unpacked_at.parent / "model.tar.gz"
    assert job.failure_reason.startswith(
        f"cannot unpack the archive '{channel_copy}': member 'a' is a symbolic link"
    ), job.failure_reason
