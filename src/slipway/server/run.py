"""Start the server under uvicorn with the settings given on the command line."""

from __future__ import annotations

import json
import os
import socket

from slipway.errors import ValidationError
from slipway.server.middleware import LOOPBACK_HOSTS, is_loopback
from slipway.settings import reload_settings

BOOTSTRAP_TOKEN_NAME = "bootstrap-admin"


def _default_hosts(host: str) -> list[str]:
    """The names a server bound to ``host`` answers to unless told others."""
    if is_loopback(host):
        return list(LOOPBACK_HOSTS)
    names = {*LOOPBACK_HOSTS, socket.gethostname(), socket.getfqdn()}
    if host not in ("0.0.0.0", "::", ""):
        names.add(host)
    return sorted(names)


def serve(
    host: str,
    port: int,
    database_url: str | None = None,
    artifact_uri: str | None = None,
    workers: int = 1,
    *,
    allowed_hosts: list[str] | None = None,
    trusted_proxies: list[str] | None = None,
    insecure_no_auth: bool = False,
) -> None:
    # Options become environment variables so that every worker process sees them.
    if database_url:
        os.environ["SLIPWAY_DATABASE_URL"] = database_url
    if artifact_uri:
        os.environ["SLIPWAY_ARTIFACT_URI"] = artifact_uri
    # Loopback names stay allowed: no other site's page can be served under them.
    hosts = [*LOOPBACK_HOSTS, *allowed_hosts] if allowed_hosts else _default_hosts(host)
    os.environ["SLIPWAY_ALLOWED_HOSTS"] = json.dumps(hosts)
    if trusted_proxies:
        os.environ["SLIPWAY_TRUSTED_PROXIES"] = json.dumps(trusted_proxies)
    settings = reload_settings()
    # Migrate once here rather than racing in every worker.
    from slipway.platform import services

    tokens = services(settings).tokens
    if settings.bootstrap_admin_token and not tokens.required():
        tokens.create_token(BOOTSTRAP_TOKEN_NAME, "admin", secret=settings.bootstrap_admin_token)
    if not is_loopback(host) and not insecure_no_auth and not tokens.required():
        raise ValidationError(
            f"refusing to listen on {host!r} without authentication: anyone who reaches it "
            "could run code on this machine. Create an admin token first (`slipway token "
            "create NAME`), or pass --insecure-no-auth if this network is yours alone"
        )
    # Always under a supervisor, which replaces a worker that dies or that shuts itself
    # down because a prediction is stuck (slipway.serving.supervisor).
    from slipway.serving import supervisor

    supervisor.run(
        "slipway.server.app:create_app", host, port, workers,
        forwarded_allow_ips=settings.trusted_proxies,
    )  # fmt: skip
