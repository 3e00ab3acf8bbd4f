from django.http import Http404

from .logs import request_id_accept, request_id_var


class NulInPathMiddleware:
    """A path with a NUL character names nothing here: 404 before a view passes it to
    PostgreSQL, which refuses NUL in a string (a 500 otherwise, e.g. /orders/%00/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            raise Http404
        return self.get_response(request)


class RequestIdMiddleware:
    """Gives each request an id (the proxy's X-Request-ID when it is a safe one), kept for the
    request's log lines and the tasks it queues, and says it in the response's X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_accept(request.META.get("HTTP_X_REQUEST_ID"))
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
