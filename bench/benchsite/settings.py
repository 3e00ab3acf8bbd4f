from unitysefer.settings import *  # noqa: F403

ROOT_URLCONF = "bench.benchsite.urls"
# The load's web clients pay through the demo provider while DEBUG is off (production speed):
# only this module, which is never deployed, allows that.
DEMO_PAYMENTS = True
# The bench's own keys, so that its figures never show in another server sharing the Redis.
CACHES["default"]["KEY_PREFIX"] = "bench-reports"  # noqa: F405
