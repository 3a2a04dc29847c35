"""The code of slipway's PL/Python functions, run inside the PostgreSQL server process.

The server's own python3 runs it, where slipway is not installed: standard library
only, and no ``from __future__`` (the source is compiled inside the function bodies).
``postgres.install`` embeds this file's text in each function; a session compiles it
once and keeps it in PL/Python's ``GD``.

It calls a slipway server's runtime route ``POST /endpoints/{name}/invocations``:
rows of numbers (and booleans, 1 or 0) as ``text/csv``, one line per row and ``nan``
for a NULL, as the reference sends rows from SQL; rows with strings as JSON records
keyed by column name. Answers are read as JSON (a list, or ``{"predictions": [...]}``)
or as CSV lines. Settings come from ``slipway.server_url``, ``slipway.token`` and
``slipway.timeout_seconds`` (``ALTER DATABASE ... SET``, or ``SET`` in a session).
"""

import csv
import io
import json
import urllib.error
import urllib.request
from decimal import Decimal
from urllib.parse import quote

INVOKE = (
    "slipway.invoke_endpoint(endpoint_name text, max_rows_per_batch int, "
    "VARIADIC model_input slipway.model_value[]) RETURNS text"
)
BATCHED = (
    "slipway.invoke_endpoint_batched(endpoint_name text, max_rows_per_batch int, "
    "query text, key_columns text[] DEFAULT '{}') RETURNS SETOF record"
)
DEFAULT_BATCH = 1000
DEFAULT_TIMEOUT = 60.0
_NUMBERS = (int, float, Decimal)


class Runtime:
    """One call's view of the settings and the endpoint, with errors that name the function."""

    def __init__(self, plpy, signature):
        self.plpy = plpy
        self.signature = signature

    def fail(self, message, hint=None):
        extra = {"hint": hint} if hint else {}
        self.plpy.error(f"{self.signature}: {message}", **extra)

    def setting(self, name):
        found = self.plpy.execute(
            self.plpy.prepare("SELECT current_setting($1, true) AS value", ["text"]),
            [f"slipway.{name}"],
        )
        return found[0]["value"] or None

    def server(self):
        url = self.setting("server_url")
        if not url:
            self.fail(
                "slipway.server_url is not set",
                hint="ALTER DATABASE <db> SET slipway.server_url = 'http://host:8600', or run "
                "`slipway sql install-postgres --server-url ...`",
            )
        try:
            timeout = float(self.setting("timeout_seconds") or DEFAULT_TIMEOUT)
        except ValueError:
            self.fail("slipway.timeout_seconds is not a number of seconds")
        return url.rstrip("/"), self.setting("token"), timeout

    def batch_size(self, max_rows_per_batch):
        if max_rows_per_batch is None:
            return DEFAULT_BATCH
        if max_rows_per_batch < 1:
            self.fail(f"max_rows_per_batch is {max_rows_per_batch}; give 1 or more, or NULL")
        return max_rows_per_batch

    # --- one request ------------------------------------------------------------------

    def score(self, endpoint, names, rows):
        """One prediction per row, from one request to the endpoint."""
        if all(value is None or isinstance(value, _NUMBERS) for row in rows for value in row):
            body, kind = _csv(rows), "text/csv"
        else:
            body, kind = _records(names, rows), "application/json"
        reply, reply_type = self.invoke(endpoint, body, kind)
        found = _parse(reply, reply_type)
        if len(found) != len(rows):
            self.fail(
                f"endpoint {endpoint!r} answered {len(found)} predictions for {len(rows)} rows"
            )
        return found

    def invoke(self, endpoint, body, content_type):
        url, token, timeout = self.server()
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            f"{url}/endpoints/{quote(endpoint, safe='')}/invocations",
            data=body,
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            self._http_error(endpoint, url, error)
        except TimeoutError:
            self._timeout(endpoint, timeout)
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                self._timeout(endpoint, timeout)
            self.fail(
                f"cannot reach the slipway server at {url}: {error.reason}",
                hint="check slipway.server_url and that `slipway server` is running",
            )

    def _timeout(self, endpoint, timeout):
        self.fail(
            f"endpoint {endpoint!r} did not answer within {timeout:g} s",
            hint="SET slipway.timeout_seconds to wait longer, or send fewer rows per batch",
        )

    def _http_error(self, endpoint, url, error):
        text = error.read().decode("utf-8", "replace")
        try:
            body = json.loads(text)
            message = body.get("OriginalMessage") or body.get("Message") or text
        except (ValueError, AttributeError):
            message = text[:300]
        if error.code == 404:
            self.fail(
                f"endpoint {endpoint!r} not found on the slipway server at {url}: {message}",
                hint="list endpoints with `slipway endpoints list`",
            )
        self.fail(f"endpoint {endpoint!r} answered {error.code}: {message}")


def _number(value):
    if value is None:
        return "nan"
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(float(value)) if isinstance(value, Decimal) else repr(value)


def _csv(rows):
    return "\n".join(",".join(_number(value) for value in row) for row in rows).encode()


def _text_csv(rows):
    """Rows of text values as CSV, quoted where needed; ``nan`` for a NULL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["nan" if value is None else value for value in row])
    return buffer.getvalue().rstrip("\n").encode()


def _plain(value):
    """A JSON value; booleans as 1.0 or 0.0, as every other path sends them."""
    if isinstance(value, bool | Decimal):
        return float(value)
    return value


def _records(names, rows):
    return json.dumps(
        [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rows]
    ).encode()


def _parse(body, content_type):
    """Predictions from a JSON list (or ``{"predictions": [...]}``), else one per line."""
    if content_type.split(";", 1)[0].strip() not in ("text/csv", "text/plain"):
        try:
            found = json.loads(body)
        except ValueError:
            found = None
        if found is not None:
            if isinstance(found, dict) and "predictions" in found:
                found = found["predictions"]
            if not isinstance(found, list):
                found = [found]
            return [row[0] if isinstance(row, list) and len(row) == 1 else row for row in found]
    text = body.decode("utf-8", "replace")
    return [_csv_value(line) for line in text.splitlines() if line]


def _csv_value(line):
    values = line.split(",")
    return values[0] if len(values) == 1 else values


def _typed(value):
    """A prediction for a declared column: 2.0 is 2, so an int column takes it; NaN is NULL."""
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return int(value)
    return value


def _text(value):
    """A prediction as the text the reference's invoke_endpoint returns."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


# --- the functions ------------------------------------------------------------------------


def invoke_endpoint(plpy, endpoint_name, max_rows_per_batch, model_input):
    """One row, sent as one CSV line (its values as text), as the reference does."""
    runtime = Runtime(plpy, INVOKE)
    if endpoint_name is None:
        runtime.fail("endpoint_name is NULL; give the name of an endpoint")
    runtime.batch_size(max_rows_per_batch)
    if not model_input:
        runtime.fail("no model_input given; pass the row's values after max_rows_per_batch")
    reply, reply_type = runtime.invoke(endpoint_name, _text_csv([model_input]), "text/csv")
    found = _parse(reply, reply_type)
    if len(found) != 1:
        runtime.fail(f"endpoint {endpoint_name!r} answered {reply[:80]!r} for one row")
    return _text(found[0])


def invoke_endpoint_batched(plpy, endpoint_name, max_rows_per_batch, query, key_columns):
    """Rows of ``query`` scored ``max_rows_per_batch`` at a time: (key columns..., prediction)."""
    runtime = Runtime(plpy, BATCHED)
    if endpoint_name is None or query is None:
        runtime.fail("endpoint_name and query must not be NULL")
    size = runtime.batch_size(max_rows_per_batch)
    keys = list(key_columns or [])
    cursor = plpy.cursor(query)
    while True:
        batch = cursor.fetch(size)
        if not batch.nrows():
            return
        columns = list(batch[0].keys())  # a cursor's batch has no colnames()
        missing = [key for key in keys if key not in columns]
        if missing:
            runtime.fail(f"key_columns {missing} are not columns of the query (it has {columns})")
        features = [name for name in columns if name not in keys]
        if not features:
            runtime.fail("the query has no columns left to send the model besides key_columns")
        rows = [[row[name] for name in features] for row in batch]
        predictions = runtime.score(endpoint_name, features, rows)
        for row, prediction in zip(batch, predictions, strict=True):
            yield (*[row[key] for key in keys], _typed(prediction))
