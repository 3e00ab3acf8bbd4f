from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from core.tasks import enqueue_on_commit

from .selectors import gift_by_token, gift_describe
from .services import gift_resend
from .tasks import deliver_order_gifts

# Corrections of a gift's address from one IP address: each may send an email.
RESEND_RATE = "10/h"


@never_cache
def gift_page(request, token):
    """The recipient's own page of their letter: nothing of the buyer but the giver's name."""
    gift = gift_by_token(token=token)
    if gift is None:
        raise Http404
    response = render(request, "gifts/page.html", gift_describe(gift=gift))
    response["Referrer-Policy"] = "no-referrer"  # the token stays on this page
    response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
@ratelimit(group="gift-resend", key="ip", rate=RESEND_RATE, method="POST", block=True)
def gift_resend_view(request, token, gift_id):
    """The buyer corrects a gift's address (its order's token only) and it is sent again."""
    try:
        gift = gift_resend(order_token=token, gift_id=gift_id, recipient_email=request.POST.get("recipient_email"))
    except PermissionDenied:
        raise Http404 from None  # another order's gift: as if there were none
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        enqueue_on_commit(deliver_order_gifts, gift.name.order_id)
        messages.success(request, _("The gift will be sent to the corrected address."))
    return redirect("order-done", token=token)
