import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.benchsite.settings")

from unitysefer.wsgi import application  # noqa: E402,F401  (the URLconf loaded at start, as in production)
