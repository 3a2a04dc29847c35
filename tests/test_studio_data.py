"""Studio's data preview reads a bounded part of a table, however well the table compresses.

Each file here is small on disk and huge once decoded, or simply longer than a preview
reads; a real `slipway server` serves the preview, and the worker that serves it must not
grow by more than a few times the preview's budget.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import peak_memory_growth
from serving_support import worker_pids
from slipway.experiments import Tracker, TrialComponent
from slipway.studio._parquet import MAX_DECODED_BYTES, MAX_UNCOMPRESSED_BYTES
from studio_support import Studio, studio_server

COMPONENT = "bombs"
BOMB_ROWS = 200_000
# Each row repeats one value this long: 1 GB of text once decoded, a few hundred bytes stored.
TEXT_LENGTH = 5_000
LONG_CSV_ROW = 100_000
# What a worker may grow by while previewing: the decoded budget, pandas' copy, allocators.
MAX_GROWTH = 3 * MAX_DECODED_BYTES
ARTIFACTS = ("repeated-text.parquet", "huge-row-group.parquet", "long-rows.csv", "nested.parquet")


def _repeated_text(path: Path) -> None:
    """One text column whose every row is the same long string, zstd-compressed."""
    values = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(BOMB_ROWS, dtype=np.int32)), pa.array(["x" * TEXT_LENGTH])
    )
    # Without pyarrow's own schema the column reads back as plain text, as any writer's would.
    pq.write_table(pa.table({"text": values}), path, compression="zstd", store_schema=False)


def _huge_row_group(path: Path) -> None:
    """One row group of zeros whose pages decompress to more than Studio decompresses."""
    zeros = pa.array(np.zeros(1_000_000))
    columns = MAX_UNCOMPRESSED_BYTES // zeros.nbytes + 1
    pq.write_table(
        pa.table({f"c{i}": zeros for i in range(columns)}),
        path,
        compression="zstd",
        use_dictionary=False,
        row_group_size=len(zeros),
    )


def _long_rows() -> list[str]:
    """The lines of a CSV whose rows are so long that the budget ends long before the file."""
    rows = MAX_DECODED_BYTES // LONG_CSV_ROW + 50
    return ["id,text\n"] + [f"{row},{'y' * LONG_CSV_ROW}\n" for row in range(rows)]


def _nested(path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "tags": [["a", "b"], ["c"]]}), path)


def _seed() -> None:
    TrialComponent.create(COMPONENT)
    with tempfile.TemporaryDirectory() as folder, Tracker.load(COMPONENT) as tracker:
        files = Path(folder)
        _repeated_text(files / "repeated-text.parquet")
        _huge_row_group(files / "huge-row-group.parquet")
        (files / "long-rows.csv").write_text("".join(_long_rows()))
        _nested(files / "nested.parquet")
        for name in ARTIFACTS:
            tracker.log_artifact(files / name)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with studio_server(tmp_path_factory.mktemp("home"), _seed) as running:
        yield running


@pytest.fixture
def client(studio: Studio) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {studio.token}"}
    with httpx.Client(base_url=studio.url, headers=headers, timeout=120) as session:
        yield session


def _preview(studio: Studio, client: httpx.Client, artifact: str) -> tuple[httpx.Response, int]:
    """The preview page of one of the component's artifacts, and the worker's peak growth."""
    uri = client.get(f"/api/v1/trial-components/{COMPONENT}").json()["OutputArtifacts"][artifact][
        "Value"
    ]
    (worker,) = worker_pids(studio.process)
    return peak_memory_growth(worker, lambda: client.get(f"/data?uri={quote(uri)}"))


def test_repeated_text_is_decoded_only_as_far_as_the_budget(
    studio: Studio, client: httpx.Client
) -> None:
    page, growth = _preview(studio, client, "repeated-text.parquet")
    assert growth < MAX_GROWTH, f"the worker grew by {growth:,} bytes"
    assert page.status_code == 200
    assert f"of {BOMB_ROWS:,}" in page.text
    assert f"Studio reads at most {MAX_DECODED_BYTES // 2**20} MiB of a table" in page.text


def test_a_row_group_too_big_to_decompress_is_refused_with_its_size(
    studio: Studio, client: httpx.Client
) -> None:
    page, growth = _preview(studio, client, "huge-row-group.parquet")
    assert growth < MAX_GROWTH, f"the worker grew by {growth:,} bytes"
    assert page.status_code == 400
    assert "huge-row-group.parquet" in page.text and "too big to preview" in page.text
    assert f"at most {MAX_UNCOMPRESSED_BYTES:,} bytes" in page.text


def test_a_csv_is_read_no_further_than_the_budget(studio: Studio, client: httpx.Client) -> None:
    page, growth = _preview(studio, client, "long-rows.csv")
    assert growth < MAX_GROWTH, f"the worker grew by {growth:,} bytes"
    # Only the rows that end within the budget: the one it cuts short is not shown.
    ends = np.cumsum([len(line) for line in _long_rows()])
    whole_rows = int((ends <= MAX_DECODED_BYTES).sum()) - 1
    assert page.status_code == 200
    assert f"first {whole_rows:,} rows; the file has more" in page.text
    assert f"Studio reads at most {MAX_DECODED_BYTES // 2**20} MiB of a table" in page.text


def test_a_nested_column_is_refused_by_name(studio: Studio, client: httpx.Client) -> None:
    page, _ = _preview(studio, client, "nested.parquet")
    assert page.status_code == 400
    assert "column &#39;tags&#39;" in page.text and "plain columns" in page.text
