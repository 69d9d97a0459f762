"""An app factory for gunicorn's aiohttp workers, configured like `autoconfig serve`.

    gunicorn 'autoconfig.gunicorn:app' --worker-class aiohttp.GunicornUVLoopWebWorker \\
        --bind 0.0.0.0:8080 --workers 4

Options come from the same AUTOCONFIG_* environment variables as `serve`. gunicorn owns the
processes and their signals (its SIGHUP restarts workers), so each worker reloads when a file
changes instead; TLS, ports and workers are gunicorn's settings, not ours.
"""

import dataclasses

from aiohttp import web

from .cli import _parser, _settings
from .web.app import create_app


async def app() -> web.Application:
    args = _parser().parse_args(["serve"])
    settings, _ = _settings(args)
    return create_app(dataclasses.replace(settings, reload_on_sighup=False))
