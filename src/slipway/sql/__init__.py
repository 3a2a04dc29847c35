"""Models from SQL: vectorised DuckDB functions, Athena's ``USING EXTERNAL FUNCTION``
statements, and PostgreSQL functions that call endpoints in batches.

::

    slipway.sql.register(con, "predict", model="model.tar.gz")       # DuckDB
    slipway.sql.query("USING EXTERNAL FUNCTION predict(a DOUBLE) RETURNS DOUBLE "
                      "SLIPWAY 'my-endpoint' SELECT predict(a) FROM 'data.parquet'")
    slipway.sql.install_postgres("postgresql://...")                 # PL/Python

The public names load on first use, so importing slipway does not import DuckDB.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "register": "slipway.sql.duck",
    "ModelFunction": "slipway.sql.duck",
    "query": "slipway.sql.athena",
    "parse_statement": "slipway.sql.athena",
    "install_postgres": "slipway.sql.postgres",
    "SqlError": "slipway.sql.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway.sql' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
