from unitysefer.settings import *  # noqa: F403

ROOT_URLCONF = "bench.benchsite.urls"
# The bench's own keys, so that its figures never show in another server sharing the Redis.
CACHES["default"]["KEY_PREFIX"] = "bench-reports"  # noqa: F405
