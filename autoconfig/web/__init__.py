"""HTTP in, HTTP out: the aiohttp application."""

from .app import AppOptions, create_app

__all__ = ["AppOptions", "create_app"]
