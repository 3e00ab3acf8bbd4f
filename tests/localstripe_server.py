"""Start localstripe on a free loopback port: `python tests/localstripe_server.py` prints
"PORT n" once it listens. Its pickle file in /tmp is disabled so runs never share state.

It also keeps a log of the API requests it answered ("GET /v1/payment_intents/pi_..."): GET
/_config/requests reads it, DELETE /_config/requests empties it (tests count how often the app
asked Stripe).

localstripe keeps a balance transaction for each charge, with no fee, and does not list them by
payout. Two additions stand in for Stripe there (tests/test_accounts_report.py): POST
/_config/balance_transactions/{id}/fee {"fee": n} sets a transaction's fee (its net follows),
and POST /_config/payouts/{id}/balance_transactions {"ids": [...]} says which transactions a
payout carried, which GET /v1/balance_transactions?payout=... then lists, by pages as Stripe
does (limit, starting_after, has_more)."""

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


payout_transactions = {}


@web.middleware
async def balance_transactions_by_payout(request, handler):
    if request.method == "GET" and request.path == "/v1/balance_transactions" and "payout" in request.query:
        ids = payout_transactions.get(request.query["payout"], [])
        after = request.query.get("starting_after")
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        limit = int(request.query.get("limit", "10"))
        rows = [resources.BalanceTransaction._api_retrieve(txn)._export() for txn in ids[:limit]]
        body = {"object": "list", "url": "/v1/balance_transactions", "data": rows, "has_more": len(ids) > limit}
        return web.json_response(body)
    return await handler(request)


async def balance_transaction_fee(request):
    transaction = resources.BalanceTransaction._api_retrieve(request.match_info["id"])
    transaction.fee = int((await request.json())["fee"])
    return web.json_response(transaction._export())


async def payout_transactions_set(request):
    payout_transactions[request.match_info["id"]] = list((await request.json())["ids"])
    return web.Response()


async def requests_read(request):
    return web.json_response(requests_answered)


async def requests_forget(request):
    requests_answered.clear()
    return web.Response()


app.middlewares.append(request_log)
app.middlewares.append(balance_transactions_by_payout)
app.router.add_post("/_config/balance_transactions/{id}/fee", balance_transaction_fee)
app.router.add_post("/_config/payouts/{id}/balance_transactions", payout_transactions_set)
app.router.add_get("/_config/requests", requests_read)
app.router.add_delete("/_config/requests", requests_forget)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print("PORT", listener.getsockname()[1], flush=True)
web.run_app(app, sock=listener, print=None, access_log=None)
