"""The code of slipway's PL/Python functions, run inside the PostgreSQL server process.

The server's own python3 runs it, where slipway is not installed: standard library
only, and no ``from __future__`` (the source is compiled inside the function bodies).
``postgres.install`` embeds this file's text in each function; a session compiles it
once and keeps it in PL/Python's ``GD``.

It calls a slipway server's runtime route ``POST /endpoints/{name}/invocations``:
rows of numbers (and booleans, 1 or 0) as ``text/csv``, one line per row and ``nan``
for a NULL, as the reference sends rows from SQL; rows with strings as JSON records
keyed by column name. Answers are read as JSON (a list, or ``{"predictions": [...]}``)
or as CSV lines.

The scoring functions run as their caller and never see the server's URL or token:
they hand each request to ``post_invocation``, a ``SECURITY DEFINER`` function that
reads both from ``slipway.credential`` (a table only its owner may read) and sends it.
So a caller can neither read the token nor point it at another server. The one setting
a session may change is ``slipway.timeout_seconds``.
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
TIMED_OUT = "timed out"
_CONTENT_TYPES = ("text/csv", "application/json")
_NUMBERS = (int, float, Decimal)


class Runtime:
    """One call's view of the settings and the endpoint, with errors that name the function."""

    def __init__(self, plpy, signature):
        self.plpy = plpy
        self.signature = signature

    def fail(self, message, hint=None):
        extra = {"hint": hint} if hint else {}
        self.plpy.error(f"{self.signature}: {message}", **extra)

    def timeout(self):
        found = self.plpy.execute(
            "SELECT current_setting('slipway.timeout_seconds', true) AS value"
        )
        try:
            return float(found[0]["value"] or DEFAULT_TIMEOUT)
        except ValueError:
            self.fail("slipway.timeout_seconds is not a number of seconds")

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
        timeout = self.timeout()
        plan = self.plpy.prepare(
            "SELECT * FROM slipway.post_invocation($1, $2, $3, $4)",
            ["text", "bytea", "text", "float8"],
        )
        sent = self.plpy.execute(plan, [endpoint, body, content_type, timeout])[0]
        url = sent["server_url"]
        if url is None:
            self.fail(
                "no slipway server to call is installed in this database",
                hint="run `slipway sql install-postgres --dsn ... --server-url ...`",
            )
        if sent["problem"] == TIMED_OUT:
            self.fail(
                f"endpoint {endpoint!r} did not answer within {timeout:g} s",
                hint="SET slipway.timeout_seconds to wait longer, or send fewer rows per batch",
            )
        if sent["problem"]:
            self.fail(
                f"cannot reach the slipway server at {url}: {sent['problem']}",
                hint="check that `slipway server` is running there; to call another server, "
                "run `slipway sql install-postgres --server-url ...` again",
            )
        if not 200 <= sent["status"] < 300:
            self._http_error(endpoint, url, sent["status"], sent["reply"])
        return sent["reply"], sent["reply_type"] or ""

    def _http_error(self, endpoint, url, status, reply):
        text = reply.decode("utf-8", "replace")
        try:
            body = json.loads(text)
            message = body.get("OriginalMessage") or body.get("Message") or text
        except (ValueError, AttributeError):
            message = text[:300]
        if status == 404:
            self.fail(
                f"endpoint {endpoint!r} not found on the slipway server at {url}: {message}",
                hint="list endpoints with `slipway endpoints list`",
            )
        self.fail(f"endpoint {endpoint!r} answered {status}: {message}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The token goes to the stored server only, never where a redirect points."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_invocation(plpy, endpoint_name, body, content_type, timeout_seconds):
    """POST ``body`` to an endpoint of the stored server with the stored token.

    Installed ``SECURITY DEFINER``: it reads ``slipway.credential`` as its owner and
    returns the answer, never the token. Failures come back as values (``status`` or
    ``problem``) so that the calling function reports them under its own name.
    """
    found = plpy.execute("SELECT server_url, token FROM slipway.credential")
    sent = dict.fromkeys(("server_url", "status", "reply_type", "reply", "problem"))
    if not found:
        return sent
    if content_type not in _CONTENT_TYPES:
        plpy.error(f"content_type {content_type!r} is not one of {_CONTENT_TYPES}")
    if timeout_seconds is None or not timeout_seconds > 0:
        plpy.error(f"timeout_seconds is {timeout_seconds}; give seconds above 0")
    url, token = found[0]["server_url"].rstrip("/"), found[0]["token"]
    sent["server_url"] = url
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{url}/endpoints/{quote(endpoint_name or '', safe='')}/invocations",
        data=body,
        headers=headers,
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            reply, status, reply_type = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        reply, status, reply_type = error.read(), error.code, error.headers
    except OSError as error:  # URLError, TimeoutError, a reset connection
        reason = getattr(error, "reason", error)
        sent["problem"] = TIMED_OUT if isinstance(reason, TimeoutError) else str(reason)
        return sent
    sent.update(status=status, reply=reply, reply_type=reply_type.get("Content-Type", ""))
    return sent


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
