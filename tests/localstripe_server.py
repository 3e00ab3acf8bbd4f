"""Start localstripe on a free loopback port: `python tests/localstripe_server.py` prints
"PORT n" once it listens. Its pickle file in /tmp is disabled so runs never share state."""

import socket

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print("PORT", listener.getsockname()[1], flush=True)
web.run_app(app, sock=listener, print=None, access_log=None)
