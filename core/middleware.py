from django.http import Http404


class NulInPathMiddleware:
    """A path with a NUL character names nothing here: 404 before a view passes it to
    PostgreSQL, which refuses NUL in a string (a 500 otherwise, e.g. /orders/%00/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            raise Http404
        return self.get_response(request)
