"""The slipway server: the REST API (and later Studio) in one ASGI application."""
