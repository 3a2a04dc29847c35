"""Models from SQL through endpoints of a real `slipway server`: DuckDB functions and
Athena statements over HTTP in batches, and the PL/Python functions of a real PostgreSQL.

One server serves the module. The slow endpoint holds the server's prediction thread, so
the tests that call it run last.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pandas as pd
import psycopg
import pytest

import slipway.sql
from helpers import free_port
from serving_support import custom_model, deploy, iris, pack, remote, sklearn_model, slipway_server
from slipway.serving.metrics import sample
from slipway.sql import SqlError

SLOW = """
    import time

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        time.sleep(2.5)
        return [0.0] * len(data)
"""
SPECIES = ["setosa", "versicolor", "virginica"]
IRIS_PARAMS = "a DOUBLE, b DOUBLE, c DOUBLE, d DOUBLE"
MIXED_PARAMS = "a DOUBLE, b DOUBLE, c DOUBLE, d DOUBLE, color VARCHAR, flag BOOLEAN"
SIGNATURE = (
    "slipway.invoke_endpoint(endpoint_name text, max_rows_per_batch int, "
    "VARIADIC model_input slipway.model_value[]) RETURNS text"
)


def _mixed_frame() -> pd.DataFrame:
    features, _ = iris()
    frame = pd.DataFrame(features, columns=list("abcd"))
    frame["color"] = np.where(np.arange(len(frame)) % 2 == 0, "red", "blue")
    frame["flag"] = (np.arange(len(frame)) % 3 == 0).astype(float)
    return frame


def _mixed_model(folder: Path) -> Path:
    """Species names from numbers, a string and a flag, the columns picked by name."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    _, labels = iris()
    # A missing colour is an unknown category: all zeros.
    colors = OneHotEncoder(handle_unknown="ignore")
    columns = ColumnTransformer(
        [("numbers", SimpleImputer(), ["a", "b", "c", "d", "flag"]), ("color", colors, ["color"])]
    )
    pipeline = make_pipeline(columns, LogisticRegression(max_iter=1000))
    pipeline.fit(_mixed_frame(), np.array(SPECIES)[labels])
    return sklearn_model(folder, pipeline)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sql-endpoints")
    with slipway_server(root / "home") as (url, _process):
        backend = remote(url)
        deploy(backend, "iris", str(pack(sklearn_model(root / "iris"), root / "iris.tar.gz")))
        deploy(backend, "mixed", str(pack(_mixed_model(root / "mixed"), root / "mixed.tar.gz")))
        slow = pack(custom_model(root / "slow", SLOW), root / "slow.tar.gz")
        deploy(backend, "slow", str(slow), InvocationTimeoutSeconds=10.0)
        yield url


@pytest.fixture(scope="module")
def flowers() -> pd.DataFrame:
    return _mixed_frame().assign(id=np.arange(150))


@pytest.fixture
def con(flowers: pd.DataFrame):
    connection = duckdb.connect()
    connection.register("flowers", flowers)
    yield connection
    connection.close()


def _species(rows: np.ndarray) -> np.ndarray:
    from serving_support import _logistic

    return _logistic().predict(rows)


def _invocations(url: str, endpoint: str) -> float:
    return sample(httpx.get(f"{url}/metrics").text, "slipway_invocations_total", endpoint=endpoint)


# --- DuckDB -------------------------------------------------------------------------------


def test_endpoint_function_scores_in_batches_of_the_given_size(server, con, flowers):
    species = slipway.sql.register(
        con, "species", endpoint="iris", server_url=server, batch_size=40, returns="INTEGER"
    )
    con.register("many", pd.concat([flowers] * 20, ignore_index=True))  # 3,000 rows
    before = _invocations(server, "iris")

    found = con.sql("SELECT species(a, b, c, d) AS s FROM many").fetchnumpy()["s"]

    features = np.tile(flowers[list("abcd")].to_numpy(), (20, 1))
    assert (found == _species(features)).all()
    # Vectors of 2,048 and 952 rows, in requests of at most 40: 52 + 24.
    assert _invocations(server, "iris") - before == 76
    assert species.vectors == 2


def test_strings_booleans_and_nulls_reach_the_endpoint_by_name(server, con):
    slipway.sql.register(
        con, "kind", endpoint="mixed", server_url=server, params=MIXED_PARAMS, returns="VARCHAR"
    )

    found = con.sql(
        "SELECT kind(a, b, c, d, color, flag = 1) AS k FROM flowers "
        "UNION ALL SELECT kind(5.1, 3.5, 1.4, NULL, NULL, NULL)"
    ).fetchnumpy()["k"]

    assert (found[:150] == np.array(SPECIES)[iris()[1]]).mean() > 0.9
    assert found[150] in SPECIES


def test_athena_statement_with_two_functions_from_the_cli(server, flowers, tmp_path):
    flowers.to_parquet(tmp_path / "flowers.parquet")
    statement = f"""
        USING EXTERNAL FUNCTION species({IRIS_PARAMS}) RETURNS INTEGER SLIPWAY 'iris',
        EXTERNAL FUNCTION kind({MIXED_PARAMS}) RETURNS VARCHAR SAGEMAKER 'mixed'
        SELECT id, species(a, b, c, d) AS species, kind(a, b, c, d, color, flag > 0) AS kind
        FROM '{tmp_path / "flowers.parquet"}' WHERE species(a, b, c, d) = 2 ORDER BY id
    """
    env = {"SLIPWAY_SERVER_URL": server, "SLIPWAY_HOME": str(tmp_path / "home")}

    done = _slipway("sql", "--format", "csv", statement, env=env)

    lines = done.stdout.splitlines()
    assert lines[0] == '"id","species","kind"'
    expected = np.flatnonzero(_species(flowers[list("abcd")].to_numpy()) == 2)
    assert [int(line.split(",")[0]) for line in lines[1:]] == expected.tolist()
    assert sum(line.endswith('"virginica"') for line in lines[1:]) > 0.9 * len(expected)


def test_query_returns_a_dataframe(server):
    found = slipway.sql.query(
        f"USING EXTERNAL FUNCTION species({IRIS_PARAMS}) RETURNS DOUBLE SLIPWAY 'iris' "
        "SELECT species(5.1, 3.5, 1.4, 0.2) AS setosa, species(6.7, 3.0, 5.2, 2.3) AS virginica",
        server_url=server,
        output="pandas",
    )
    assert found.to_dict("records") == [{"setosa": 0.0, "virginica": 2.0}]


def test_unknown_endpoint_is_refused_when_declared(server):
    with pytest.raises(SqlError) as caught:
        slipway.sql.query(
            "USING EXTERNAL FUNCTION predict(a DOUBLE) RETURNS DOUBLE SLIPWAY 'no-such' "
            "SELECT predict(1)",
            server_url=server,
        )
    message = caught.value.message
    assert message.startswith("predict(a DOUBLE) RETURNS DOUBLE: endpoint 'no-such' not found")
    assert "slipway endpoints list" in message


def test_endpoint_that_refuses_the_rows_names_the_function(server, con):
    slipway.sql.register(
        con, "two", endpoint="iris", server_url=server, params="a DOUBLE, b DOUBLE"
    )
    with pytest.raises(duckdb.Error) as caught:
        con.sql("SELECT two(a, b) FROM flowers").fetchall()
    assert "two(a DOUBLE, b DOUBLE) RETURNS DOUBLE: endpoint 'iris' cannot score" in str(
        caught.value
    )
    assert "4 features" in str(caught.value)


def test_a_stopped_server_is_a_clear_error(con):
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SqlError, match=r"^f\(x DOUBLE\) RETURNS DOUBLE: cannot reach"):
        slipway.sql.register(con, "f", endpoint="iris", server_url=down, params="x DOUBLE")


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database(server, postgres_url: str):
    if not list(Path("/usr/lib/postgresql").glob("*/lib/plpython3.so")):
        pytest.fail("PL/Python is not installed for PostgreSQL: run `make test`", pytrace=False)
    from helpers import fresh_database

    with fresh_database(postgres_url) as url:
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        done = _slipway("sql", "install-postgres", "--dsn", url, "--server-url", server)
        assert "installed slipway.invoke_endpoint_batched" in done.stdout
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE flowers (id int, a float8, b float8, c float8, d float8, "
                "color text, flag boolean)"
            )
            with conn.cursor().copy("COPY flowers FROM STDIN") as copy:
                for row in _mixed_frame().itertuples():
                    copy.write_row((row.Index, row.a, row.b, row.c, row.d, row.color, row.flag > 0))
        yield dsn


@pytest.fixture
def pg(database: str):
    with psycopg.connect(database, autocommit=True) as conn:
        yield conn


def test_invoke_endpoint_mirrors_the_reference_call(pg):
    rows = pg.execute(
        "SELECT slipway.invoke_endpoint('iris', NULL, a, b, c, d)::int FROM flowers ORDER BY id"
    ).fetchall()

    features, _ = iris()
    assert [row[0] for row in rows] == _species(features).tolist()


def test_a_reference_style_wrapper_function_works(pg):
    pg.execute(
        "CREATE OR REPLACE FUNCTION species(a float8, b float8, c int, d numeric, "
        "max_rows_per_batch int DEFAULT NULL) RETURNS int LANGUAGE sql PARALLEL SAFE AS "
        "$$ SELECT slipway.invoke_endpoint('iris', max_rows_per_batch, a, b, c, d)::int $$"
    )
    assert pg.execute("SELECT species(5.1, 3.5, 1, 0.2)").fetchone() == (0,)


def test_batched_form_scores_a_whole_query_in_batches(server, pg):
    before = _invocations(server, "iris")

    rows = pg.execute(
        "SELECT * FROM slipway.invoke_endpoint_batched('iris', 40, "
        "'SELECT id, a, b, c, d FROM flowers ORDER BY id', '{id}') AS t(id int, species int)"
    ).fetchall()

    features, _ = iris()
    assert rows == list(enumerate(_species(features).tolist()))
    assert _invocations(server, "iris") - before == 4  # 150 rows, 40 per request


def test_batched_form_sends_strings_booleans_and_nulls(pg):
    rows = pg.execute(
        "SELECT * FROM slipway.invoke_endpoint_batched('mixed', NULL, $$"
        "SELECT id, a, b, c, d, color, flag FROM flowers "
        "UNION ALL SELECT 999, 5.1, 3.5, 1.4, NULL, NULL, NULL ORDER BY id$$, '{id}') "
        "AS t(id int, kind text)"
    ).fetchall()

    found = dict(rows)
    agree = np.mean([found[i] == SPECIES[label] for i, label in enumerate(iris()[1])])
    assert agree > 0.9
    assert found[999] in SPECIES


def test_postgres_errors_name_the_function(pg):
    with pytest.raises(psycopg.Error) as caught:
        pg.execute("SELECT slipway.invoke_endpoint('no-such', NULL, 1.0, 2.0)")
    assert SIGNATURE in str(caught.value)
    assert "endpoint 'no-such' not found" in str(caught.value)

    with pytest.raises(psycopg.Error) as caught:
        pg.execute("SELECT slipway.invoke_endpoint('iris', NULL, 'tall', 2, 3, 4)")
    assert SIGNATURE in str(caught.value)
    assert "'tall' is not a number" in str(caught.value)

    with pytest.raises(psycopg.Error, match="max_rows_per_batch is 0"):
        pg.execute("SELECT slipway.invoke_endpoint('iris', 0, 1, 2, 3, 4)")

    # The server is stored beside the token; rolled back, for the tests after this one.
    down = f"http://127.0.0.1:{free_port()}"
    unreachable = pytest.raises(psycopg.Error, match=f"cannot reach the slipway server at {down}")
    with unreachable, pg.transaction():
        pg.execute("UPDATE slipway.credential SET server_url = %s", [down])
        pg.execute("SELECT slipway.invoke_endpoint('iris', NULL, 1, 2, 3, 4)")


# --- slow endpoints (last: each holds the server's prediction thread) ----------------------


def test_slow_endpoint_times_out_in_duckdb(server, con):
    started = time.monotonic()
    with pytest.raises(SqlError, match=r"endpoint 'slow' did not answer within 0.3 s"):
        slipway.sql.query(
            "USING EXTERNAL FUNCTION wait(x DOUBLE) RETURNS DOUBLE SLIPWAY 'slow' SELECT wait(1)",
            server_url=server,
            timeout=0.3,
        )
    assert time.monotonic() - started < 2.0


def test_slow_endpoint_times_out_in_postgres(pg):
    pg.execute("SET slipway.timeout_seconds = '0.3'")
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as caught:
        pg.execute("SELECT slipway.invoke_endpoint('slow', NULL, 1)")
    assert SIGNATURE in str(caught.value)
    assert "endpoint 'slow' did not answer within 0.3 s" in str(caught.value)
    assert time.monotonic() - started < 2.0


def _slipway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    command = [sys.executable, "-c", "from slipway.cli import main; main()", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done
