"""The SageMaker training container contract, reproduced in a per-job folder.

The folder stands in for ``/opt/ml``: ``input/config/*.json``, ``input/data/<channel>/``,
``model/``, ``output/`` (with ``output/failure`` and ``output/data/``), ``code/``. The
``SM_*`` variables point into it, so an unmodified script-mode script (argparse with
``SM_MODEL_DIR``, ``SM_CHANNEL_TRAIN`` and hyperparameters as arguments) runs as is.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

import fsspec

from slipway.archives import unpack_archive
from slipway.errors import ValidationError
from slipway.settings import Settings
from slipway.training.models import CreateTrainingJob

HOST = "algo-1"
# Set by the SDK or the tuner for the platform, not the script: they stay out of the
# script's arguments and SM_HPS, as in the training toolkit.
RESERVED_HYPERPARAMETERS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_enable_cloudwatch_metrics",
        "sagemaker_region",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "sagemaker_s3_output",
        "_tuning_objective_metric",
    }
)


def _compact(value: Any) -> str:
    """The training toolkit's encoding of non-string variables."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def encoded_hyperparameters(hyperparameters: dict[str, Any]) -> dict[str, str]:
    """hyperparameters.json holds strings only; values are JSON-encoded as the SDK does."""
    return {name: json.dumps(value) for name, value in hyperparameters.items()}


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _user_hyperparameters(request: CreateTrainingJob) -> dict[str, Any]:
    """Decoded hyperparameters less the reserved ones, which the toolkit keeps from scripts."""
    return {
        name: _decoded(value)
        for name, value in encoded_hyperparameters(request.hyperparameters).items()
        if name not in RESERVED_HYPERPARAMETERS
    }


def _cli_arguments(hyperparameters: dict[str, Any]) -> list[str]:
    """``--key value`` per hyperparameter, sorted, ``-k`` for one-letter keys."""
    arguments = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        flag = f"-{name}" if len(name) == 1 else f"--{name}"
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        arguments += [flag, str(value)]
    return arguments


class ContainerRoot:
    """One job's stand-in for /opt/ml."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.input = root / "input"
        self.config = self.input / "config"
        self.data = self.input / "data"
        self.model = root / "model"
        self.output = root / "output"
        self.output_data = self.output / "data"
        self.intermediate = self.output / "intermediate"
        self.code = root / "code"
        self.failure = self.output / "failure"

    def create(self) -> None:
        for folder in (
            self.config,
            self.data,
            self.model,
            self.output_data,
            self.intermediate,
            self.code,
        ):
            folder.mkdir(parents=True, exist_ok=True)

    def write_config(self, request: CreateTrainingJob) -> None:
        hyperparameters = encoded_hyperparameters(request.hyperparameters)
        (self.config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (self.config / "resourceconfig.json").write_text(json.dumps(self.resource_config()))
        (self.config / "inputdataconfig.json").write_text(
            json.dumps(self.input_data_config(request))
        )

    @staticmethod
    def resource_config() -> dict[str, Any]:
        return {"current_host": HOST, "hosts": [HOST], "network_interface_name": "eth0"}

    @staticmethod
    def input_data_config(request: CreateTrainingJob) -> dict[str, Any]:
        return {
            name: {
                "ContentType": channel.content_type or "application/octet-stream",
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            for name, channel in request.input_data_config.items()
        }

    def fetch_channel(self, name: str, uri: str) -> None:
        """Copy a channel's file or folder into input/data/<channel>/."""
        target = self.data / name
        target.mkdir(parents=True, exist_ok=True)
        fs, path = fsspec.core.url_to_fs(uri)
        if not fs.exists(path):
            raise ValidationError(f"input channel {name!r}: nothing found at {uri!r}")
        if fs.isdir(path):
            fs.get(path.rstrip("/") + "/", str(target) + "/", recursive=True)
        else:
            fs.get(path, str(target / Path(path).name))

    def fetch_code(self, source_uri: str, settings: Settings) -> None:
        fs, path = fsspec.core.url_to_fs(source_uri)
        info = fs.info(path)
        version = (source_uri, info.get("size"), info.get("mtime") or info.get("ETag"))
        files = _unpacked_sources.get(version)
        if files is None:
            with fs.open(path, "rb") as stream:
                unpack_archive(stream, self.code, name=source_uri, settings=settings)
            _remember_source(version, self.code)
            return
        for relative, mode, data in files:
            target = self.code / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(mode)

    def environment(self, request: CreateTrainingJob, source_uri: str | None) -> dict[str, str]:
        """The SM_* variables of the training toolkit, pointing into this folder."""
        hps = _user_hyperparameters(request)
        channels = sorted(request.input_data_config)
        module = Path(request.entry_point).stem
        user_args = _cli_arguments(hps)
        values: dict[str, Any] = {
            "hosts": [HOST],
            "network_interface_name": "eth0",
            "hps": hps,
            "user_entry_point": request.entry_point,
            "framework_params": {},
            "resource_config": self.resource_config(),
            "input_data_config": self.input_data_config(request),
            "output_data_dir": str(self.output_data),
            "channels": channels,
            "current_host": HOST,
            "module_name": module,
            "log_level": 20,
            "framework_module": "",
            "input_dir": str(self.input),
            "input_config_dir": str(self.config),
            "output_dir": str(self.output),
            "num_cpus": os.cpu_count() or 1,
            "num_gpus": 0,
            "model_dir": str(self.model),
            "module_dir": source_uri or "",
            "user_args": user_args,
            "output_intermediate_dir": str(self.intermediate),
        }
        env = {
            f"SM_{k.upper()}": v if isinstance(v, str) else _compact(v) for k, v in values.items()
        }
        env["SM_TRAINING_ENV"] = _compact({**values, "job_name": request.training_job_name})
        for name in channels:
            env[f"SM_CHANNEL_{name.upper()}"] = str(self.data / name)
        for name, value in hps.items():
            env[f"SM_HP_{name.upper()}"] = value if isinstance(value, str) else _compact(value)
        env["TRAINING_JOB_NAME"] = request.training_job_name
        env["CURRENT_HOST"] = HOST
        env["SAGEMAKER_BASE_DIR"] = str(self.root)
        return env

    def command(self, request: CreateTrainingJob) -> list[str]:
        entry = self.code / request.entry_point
        if not entry.is_file():
            raise ValidationError(
                f"entry point {request.entry_point!r} is not in the job's source folder; "
                "pass entry_point relative to source_dir"
            )
        hps = _user_hyperparameters(request)
        return [sys.executable, str(entry), *_cli_arguments(hps)]

    def failure_reason(self) -> str | None:
        if self.failure.is_file():
            return self.failure.read_text(errors="replace")[:1024].strip() or None
        return None

    def pack_model(self, stream: BinaryIO) -> None:
        _pack(self.model, stream)

    def has_output_data(self) -> bool:
        return any(self.output_data.iterdir())

    def pack_output_data(self, stream: BinaryIO) -> None:
        _pack(self.output_data, stream)


# gzip's fastest level: a model is mostly numbers, which no level shrinks much. A 69 MB
# tree ensemble took 15.5 s at level 9 (tarfile's default) and 0.4 s at level 1, for a
# tarball of 13 MB against 16 MB; the job's end waits for it.
_COMPRESS_LEVEL = 1


def _pack(folder: Path, stream: BinaryIO) -> None:
    """Write a folder's contents to a stream as a gzip tarball."""
    with tarfile.open(fileobj=stream, mode="w:gz", compresslevel=_COMPRESS_LEVEL) as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name)


# A tuning job's trials all run the same source archive: each process unpacks a version
# of it once and writes the files it remembers for the next trials. Only small sources
# of plain files are kept, the newest few.
_SOURCE_BYTES_KEPT = 8 * 1024 * 1024
_SOURCES_KEPT = 8
_unpacked_sources: dict[tuple[Any, ...], list[tuple[str, int, bytes]]] = {}
_sources_lock = threading.Lock()  # watchers of parallel trials remember at once


def _remember_source(version: tuple[Any, ...], folder: Path) -> None:
    files, total = [], 0
    for item in sorted(folder.rglob("*")):
        if item.is_file():
            total += item.stat().st_size
            if total > _SOURCE_BYTES_KEPT:
                return
            files.append(
                (str(item.relative_to(folder)), item.stat().st_mode & 0o777, item.read_bytes())
            )
    with _sources_lock:
        while len(_unpacked_sources) >= _SOURCES_KEPT:
            _unpacked_sources.pop(next(iter(_unpacked_sources)))
        _unpacked_sources[version] = files
