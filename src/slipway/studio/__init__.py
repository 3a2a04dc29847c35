"""Studio: the web pages of slipway, served by ``slipway server`` at ``/``."""

from slipway.studio.routes import router

__all__ = ["router"]
