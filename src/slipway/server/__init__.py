"""The slipway server: the REST API, Studio and the data plane in one ASGI application."""
