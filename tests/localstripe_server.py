"""Start localstripe on a free loopback port: `python tests/localstripe_server.py` prints
"PORT n" once it listens. Its pickle file in /tmp is disabled so runs never share state.

It also keeps a log of the API requests it answered ("GET /v1/payment_intents/pi_..."): GET
/_config/requests reads it, DELETE /_config/requests empties it (tests count how often the app
asked Stripe)."""

import socket

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

requests_answered = []


@web.middleware
async def request_log(request, handler):
    if request.path.startswith("/v1/"):
        requests_answered.append(f"{request.method} {request.path}")
    return await handler(request)


async def requests_read(request):
    return web.json_response(requests_answered)


async def requests_forget(request):
    requests_answered.clear()
    return web.Response()


app.middlewares.append(request_log)
app.router.add_get("/_config/requests", requests_read)
app.router.add_delete("/_config/requests", requests_forget)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print("PORT", listener.getsockname()[1], flush=True)
web.run_app(app, sock=listener, print=None, access_log=None)
