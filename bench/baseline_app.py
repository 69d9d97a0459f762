"""The baseline of `make bench`: a bare aiohttp app answering fixed bytes, on uvloop.

It does what any aiohttp server must do (accept, parse HTTP, read a POST body, write a response),
so the ratio of autoconfig to it shows only what autoconfig itself costs.
"""

import asyncio
import sys

from aiohttp import web

BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n'
    + b'  <emailProvider id="example.com">\n'
    + b"    <domain>example.com</domain>\n" * 30
    + b"  </emailProvider>\n</clientConfig>\n"
)[:1200]


async def get(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="text/xml", charset="utf-8")


async def post(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="text/xml", charset="utf-8")


def main() -> None:
    import uvloop

    app = web.Application()
    app.router.add_get("/{tail:.*}", get)
    app.router.add_post("/{tail:.*}", post)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
        print("serving", flush=True)
        await asyncio.Event().wait()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
