"""HTTP in, HTTP out: the aiohttp applications, built from one route table.

One module per client family, with its routes and metrics labels and no XML of its own:
- thunderbird.py: `/mail/config-v1.1.xml`, `/.well-known/autoconfig/...`, `/v1.1/{domain}`.
- autodiscover.py: `/autodiscover/autodiscover.xml`, Outlook POX and ActiveSync (POST, GET).
- autodiscover_json.py: `/autodiscover/autodiscover.json` (new Outlook, Outlook mobile).
- apple.py: `/email.mobileconfig`, `/apple/mobileconfig`.
- pacc.py: `/.well-known/user-agent-configuration.json`.
- settings_page.py: `/`, `/settings`, `/settings/{domain}` and the page's static files (people).
- operations.py: `/healthz`, `/readyz`, `/catalog`, `/metrics`.
- plain_http.py: the `--http-port` listener's redirect to https.

What they share:
- app.py: `AppOptions`, `create_app` and the listeners' apps, from the families' tables.
- routes.py: the table's `Route`, `mount` (router, fast table and metrics from one table), the
  Expect handler. request.py: `ClientRequest`, all a handler may read of a request.
- dispatch.py: the fast dispatch of exact paths, without the router.
- host.py: the one Host parser (the mail domain it names, this server's own name and URL).
- query.py: query parameters and the address in them. proxies.py: trusted proxies (client IP,
  forwarded Host). limits.py: the per-IP rate limit. observe.py: request ids, metrics, access
  logs. responses.py: answers and header sets several families send.
"""

from .app import AppOptions, create_app

__all__ = ["AppOptions", "create_app"]
