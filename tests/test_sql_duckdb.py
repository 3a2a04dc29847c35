"""Models as DuckDB functions, scored in this process: registration, Athena statements,
types both ways and the errors an analyst sees."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import slipway.sql
from serving_support import custom_model, iris, pack, sklearn_model
from slipway.sql import SqlError

# Answers the first argument of each row as it arrived: shows what the model was given.
ECHO = """
    import numpy as np

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        if isinstance(data, np.ndarray):
            return data[:, 0]
        return data.iloc[:, 0].tolist()
"""

IRIS_PARAMS = "a DOUBLE, b DOUBLE, c DOUBLE, d DOUBLE"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sql-models")
    return {
        "iris": pack(sklearn_model(root / "iris"), root / "iris.tar.gz"),
        "echo": custom_model(root / "echo", ECHO),
    }


@pytest.fixture(scope="module")
def flowers() -> pd.DataFrame:
    features, _ = iris()
    return pd.DataFrame(features, columns=list("abcd"))


@pytest.fixture
def con(flowers: pd.DataFrame):
    connection = duckdb.connect()
    connection.register("flowers", flowers)
    yield connection
    connection.close()


def _expected(flowers: pd.DataFrame, times: int = 1) -> np.ndarray:
    from serving_support import _logistic

    return _logistic().predict(np.tile(flowers.to_numpy(), (times, 1)))


def test_registered_model_scores_a_whole_vector_per_call(con, models, flowers):
    species = slipway.sql.register(con, "species", model=str(models["iris"]), returns="INTEGER")
    con.register("many", pd.concat([flowers] * 40, ignore_index=True))  # 6,000 rows

    found = con.sql("SELECT species(a, b, c, d) AS s FROM many").fetchnumpy()["s"]

    assert (found == _expected(flowers, 40)).all()
    assert species.vectors == 3  # DuckDB's vectors of 2,048 rows, one model call each


def test_declared_parameters_are_checked_against_the_model(con, models):
    with pytest.raises(SqlError) as caught:
        slipway.sql.register(con, "short", model=str(models["iris"]), params="a DOUBLE")
    assert "short(a DOUBLE) RETURNS DOUBLE" in caught.value.message
    assert "takes 4 features" in caught.value.message


@pytest.mark.parametrize(
    ("returns", "value", "expected"),
    [
        ("DOUBLE", "1.5", 1.5),
        ("DOUBLE", "NULL::DOUBLE", None),
        ("INTEGER", "7", 7),
        ("BIGINT", "NULL::BIGINT", None),
        ("VARCHAR", "'a string'", "a string"),
        ("VARCHAR", "NULL::VARCHAR", None),
        ("BOOLEAN", "true", True),
        ("BOOLEAN", "false", False),
        ("BOOLEAN", "NULL::BOOLEAN", None),
        ("DECIMAL(6,2)", "2.5", pytest.approx(2.5)),
    ],
)
def test_values_and_nulls_cross_into_the_model_and_back(con, models, returns, value, expected):
    slipway.sql.register(con, "echo", model=str(models["echo"]), returns=returns)

    [(found,)] = con.sql(f"SELECT echo({value})").fetchall()

    assert found == expected


def test_declared_returns_type_is_enforced(con, models):
    slipway.sql.register(con, "as_int", model=str(models["echo"]), returns="INTEGER")
    slipway.sql.register(con, "as_number", model=str(models["echo"]), returns="DOUBLE")

    with pytest.raises(duckdb.Error, match=r"as_int\(ANY, \.\.\.\) RETURNS INTEGER: .*2\.5"):
        con.sql("SELECT as_int(2.5)").fetchall()
    with pytest.raises(duckdb.Error, match=r"answered 'setosa', which is not a DOUBLE"):
        con.sql("SELECT as_number('setosa')").fetchall()


def test_athena_statement_runs_in_duckdb_over_a_parquet_file(models, flowers, tmp_path):
    flowers.assign(id=range(len(flowers))).to_parquet(tmp_path / "flowers.parquet")
    statement = f"""
        USING EXTERNAL FUNCTION species({IRIS_PARAMS}) RETURNS INTEGER
            SAGEMAKER '{models["iris"]}',
        EXTERNAL FUNCTION label_of(x VARCHAR) RETURNS VARCHAR SLIPWAY '{models["echo"]}'
        SELECT id, species(a, b, c, d) AS species, label_of('id-' || id) AS label
        FROM '{tmp_path / "flowers.parquet"}' ORDER BY id
    """

    found = slipway.sql.query(statement, output="pandas")

    assert list(found.columns) == ["id", "species", "label"]
    assert (found["species"].to_numpy() == _expected(flowers)).all()
    assert found["label"].iloc[3] == "id-3"


def test_athena_statement_takes_a_registered_model_package(models, embedded_registry):
    from slipway.registry import register_model

    package = register_model("sql-iris", str(models["iris"]), framework="sklearn")
    statement = (
        f"USING EXTERNAL FUNCTION species({IRIS_PARAMS}) RETURNS INTEGER "
        f"SLIPWAY '{package.model_package_arn}' SELECT species(5.1, 3.5, 1.4, 0.2) AS s"
    )

    assert slipway.sql.query(statement).to_pylist() == [{"s": 0}]


def test_wrong_number_of_arguments_names_the_declared_signature(models):
    statement = (
        f"USING EXTERNAL FUNCTION species({IRIS_PARAMS}) RETURNS INTEGER "
        f"SLIPWAY '{models['iris']}' SELECT species(1.0, 2.0) AS s"
    )
    with pytest.raises(SqlError) as caught:
        slipway.sql.query(statement)
    message = caught.value.message
    assert message.startswith(f"species({IRIS_PARAMS}) RETURNS INTEGER: called as species(")
    assert "takes 4 arguments" in message


def test_a_value_the_model_cannot_take_names_the_function(models):
    statement = (
        "USING EXTERNAL FUNCTION species(a VARCHAR, b DOUBLE, c DOUBLE, d DOUBLE) "
        f"RETURNS INTEGER SLIPWAY '{models['iris']}' SELECT species('tall', 2, 3, 4) AS s"
    )
    with pytest.raises(SqlError) as caught:
        slipway.sql.query(statement)
    message = caught.value.message
    assert message.startswith("species(a VARCHAR, b DOUBLE, c DOUBLE, d DOUBLE) RETURNS INTEGER")
    assert "could not convert string to float: 'tall'" in message


def test_a_type_no_model_takes_is_refused_in_the_declaration(models):
    with pytest.raises(SqlError, match=r"function when\(d DATE\): type 'DATE' is not supported"):
        slipway.sql.query(
            f"USING EXTERNAL FUNCTION when(d DATE) RETURNS DOUBLE SLIPWAY '{models['echo']}' "
            "SELECT 1"
        )


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("USING EXTERNAL FUNCTION f(a INT) DOUBLE SLIPWAY 'e' SELECT 1", "expected RETURNS"),
        ("USING EXTERNAL FUNCTION f(a INT RETURNS DOUBLE SLIPWAY 'e' SELECT 1", "not closed"),
        ("USING EXTERNAL FUNCTION f(a INT) RETURNS DOUBLE SLIPWAY 'e'", "a query must follow"),
        ("USING EXTERNAL FUNCTION f(a INT) RETURNS DOUBLE SLIPWAY e SELECT 1", "quoted endpoint"),
        ("USING EXTERNAL FUNCTION f(a INT,) RETURNS DOUBLE SLIPWAY 'e' SELECT 1", "missing"),
        ("USING FUNCTION f(a INT) RETURNS DOUBLE SLIPWAY 'e' SELECT 1", "expected EXTERNAL"),
    ],
)
def test_a_malformed_statement_says_where_and_gives_the_form(statement, problem):
    with pytest.raises(SqlError) as caught:
        slipway.sql.query(statement)
    assert "malformed statement" in caught.value.message
    assert problem in caught.value.message
    assert "USING EXTERNAL FUNCTION name(arg TYPE, ...) RETURNS TYPE" in caught.value.message


@pytest.fixture
def embedded_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from slipway.platform import reset
    from slipway.settings import reload_settings

    for name in ("SLIPWAY_SERVER_URL", "SLIPWAY_DATABASE_URL", "SLIPWAY_ARTIFACT_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    reload_settings()
    reset()
    yield
    monkeypatch.undo()
    reload_settings()
    reset()
