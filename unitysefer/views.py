from django.db import connection
from django.http import HttpResponse


def healthz(request):
    """For load balancers and docker-compose: answers once the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
