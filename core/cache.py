"""Django's Redis cache, with one redis-py client per connection pool.

Django's client builds a new redis.Redis for every cache call, which costs about as much as the
round trip to Redis itself (~60 µs against ~100 µs, measured by bench/reports.py): the public
progress is read from the cache on every request. A redis.Redis is safe to share between threads,
and its pool reconnects in a process forked after it was made (gunicorn, Celery)."""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
