"""An app factory for gunicorn's aiohttp workers, configured like `autoconfig serve`.

    gunicorn 'autoconfig.gunicorn:app' --worker-class aiohttp.GunicornUVLoopWebWorker \\
        --bind 0.0.0.0:8080 --workers 4

Options come from the same AUTOCONFIG_* environment variables as `serve`. gunicorn owns the
processes and their signals (its SIGHUP restarts workers), so each worker reloads when a file
changes instead; TLS, ports and workers are gunicorn's settings, not ours.
"""

from aiohttp import web

from .options import app_options_from_env
from .web.app import create_app


async def app() -> web.Application:
    return create_app(app_options_from_env())
