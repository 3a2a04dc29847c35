"""The ASGI application: routes of every capability, auth, limits and error bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway import __version__
from slipway.auth import api as auth_api
from slipway.automl import api as automl_api
from slipway.errors import SlipwayError, describe_problems
from slipway.experiments import api as experiments_api
from slipway.jobs import api as jobs_api
from slipway.monitor import api as monitor_api
from slipway.platform import services
from slipway.registry import api as registry_api
from slipway.s3 import PREFIX as S3_PREFIX
from slipway.s3 import api as s3_api
from slipway.sagemaker import api as sagemaker_api
from slipway.server.allow import allowed_methods
from slipway.server.background import lifespan
from slipway.server.headers import SecurityHeadersMiddleware
from slipway.server.middleware import AuthMiddleware, BodyLimitMiddleware, OriginCheckMiddleware
from slipway.server.openapi import describe_api
from slipway.serving import api as serving_api
from slipway.serving.gateway import ServingMiddleware
from slipway.settings import Settings, get_settings
from slipway.studio import router as studio_router
from slipway.studio.routes import SIGN_IN_PATH
from slipway.training import api as training_api
from slipway.transform import api as transform_api
from slipway.tuning import api as tuning_api

log = logging.getLogger("slipway.server")

_STATUS_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    422: "ValidationError",
}


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def _on_slipway_error(_request: Request, error: SlipwayError) -> JSONResponse:
    return _error(error.status_code, error.code, error.message)


async def _on_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return _error(400, "MalformedJSON", "the request body is not valid JSON")
    if any(tuple(p.get("loc", ())) == ("body",) for p in problems):
        return _error(
            400,
            "BadRequest",
            "the request body must be a JSON object sent with Content-Type: application/json",
        )
    message = describe_problems(problems)
    return _error(422, "ValidationError", message)


async def _on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(error.status_code, "HTTPError")
    message = error.detail if isinstance(error.detail, str) else str(error.detail)
    headers = error.headers
    if error.status_code == 404:
        message = f"no route for {request.method} {request.url.path}"
    if error.status_code == 405:
        allowed = ", ".join(allowed_methods(request))
        headers = {"Allow": allowed}
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    return _error(error.status_code, code, message, headers)


async def _on_unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error")
    return _error(500, "InternalError", f"the server failed: {type(error).__name__}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="slipway",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services(settings)
    app.add_exception_handler(SlipwayError, _on_slipway_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(auth_api.router)
    app.include_router(experiments_api.router)
    app.include_router(training_api.router)
    app.include_router(tuning_api.router)
    app.include_router(automl_api.router)
    app.include_router(jobs_api.router)
    app.include_router(registry_api.router)
    app.include_router(serving_api.router)
    app.include_router(monitor_api.router)
    app.include_router(transform_api.router)
    # boto3's sagemaker client: POST / (Studio's pages answer GET /).
    app.include_router(sagemaker_api.router)
    # S3 clients path-style under /s3 (endpoint_url http://HOST:PORT/s3): no bucket name
    # can collide with the server's own routes. ListBuckets asks for /s3 itself.
    app.add_route(S3_PREFIX, s3_api.app)
    app.mount(S3_PREFIX, s3_api.app)
    # Studio's pages at /, after the API so that no page can shadow a route of it.
    app.include_router(studio_router)

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    describe_api(app)

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthMiddleware, services=app.state.services, sign_in_path=SIGN_IN_PATH)
    # Invocations bypass the REST stack (see slipway.serving.gateway).
    app.add_middleware(
        ServingMiddleware,
        source=app.state.services.serving,
        settings=settings,
        tokens=app.state.services.tokens,
        sessions=app.state.services.sessions,
    )
    # No request for another host name, or state change from another site, reaches
    # anything behind this.
    app.add_middleware(OriginCheckMiddleware, allowed_hosts=settings.allowed_hosts)
    # Outermost: every response, invocations and refusals too, carries the security headers.
    app.add_middleware(SecurityHeadersMiddleware, docs_path=app.docs_url)
    return app
