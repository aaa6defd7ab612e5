"""The ganscope server: REST API (OpenAPI at /docs), the paint page at / and the unit browser at /browse."""

from ganscope.server.app import create_app

__all__ = ["create_app"]
