from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocation.models import Reservation
from allocation.services import reservation_cancel, reservation_create, reservation_give, reservation_update
from core.decorators import staff_required

from .forms import HonoureeForm, HonourForm, ReservationForm, SiyumForm
from .selectors import (
    scroll_awaiting_siyum,
    scrolls_awaiting_siyum,
    scrolls_with_honours,
)
from .services import scroll_siyum_hold


def _messages_by_key(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


def _errors_to_form(form, error: ValidationError) -> None:
    """A service's ValidationError onto the form: by field where the form has it, else on top."""
    for key, key_messages in _messages_by_key(error).items():
        form.add_error(key if key in form.fields else None, key_messages)


# --- Honour letters (staff) ----------------------------------------------------------------


@staff_required
def honours(request):
    """The honour letters of the open and full scrolls; reserve another."""
    form = ReservationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reservation = reservation_create(
                scroll_id=form.cleaned_data["scroll"].pk,
                position=form.cleaned_data["position"],
                honouree=form.cleaned_data["honouree"],
                note=form.cleaned_data["note"],
                created_by=request.user,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("Letter %(position)d of %(scroll)s is reserved for %(honouree)s.")
                % {"position": reservation.position, "scroll": reservation.scroll, "honouree": reservation.honouree},
            )
            return redirect("siyum:honours")
    return render(request, "siyum/honours.html", {"form": form, "scrolls": scrolls_with_honours()})


@staff_required
def honour_give(request, pk):
    reservation = get_object_or_404(Reservation.objects.select_related("scroll__campaign", "name"), pk=pk)
    campaign = reservation.scroll.campaign
    form = HonourForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            order = reservation_give(
                reservation_id=reservation.pk,
                name=form.name_data(),
                email=form.cleaned_data["email"],
                given_by=request.user,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("Letter %(position)d is written for %(name)s.")
                % {"position": reservation.position, "name": order.names.get().display_name},
            )
            return redirect("siyum:honours")
    return render(request, "siyum/honour_give.html", {"reservation": reservation, "form": form})


@staff_required
def honour_edit(request, pk):
    """Name the honouree of a letter not yet given (a default one is made unnamed), with a note."""
    reservation = get_object_or_404(Reservation.objects.select_related("scroll__campaign", "name"), pk=pk)
    form = HonoureeForm(request.POST or None, initial={"honouree": reservation.honouree, "note": reservation.note})
    if request.method == "POST" and form.is_valid():
        try:
            reservation = reservation_update(
                reservation_id=reservation.pk,
                honouree=form.cleaned_data["honouree"],
                note=form.cleaned_data["note"],
                updated_by=request.user,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("Letter %(position)d is kept for %(honouree)s.")
                % {"position": reservation.position, "honouree": reservation.honouree},
            )
            return redirect("siyum:honours")
    return render(request, "siyum/honour_edit.html", {"reservation": reservation, "form": form})


@staff_required
@require_POST
def honour_cancel(request, pk):
    reservation = get_object_or_404(Reservation.objects.select_related("scroll"), pk=pk)
    try:
        reservation_cancel(reservation_id=reservation.pk, cancelled_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Letter %(position)d is no longer reserved.") % {"position": reservation.position})
    return redirect("siyum:honours")


# --- The siyum (staff) ---------------------------------------------------------------------


@staff_required
def siyum_list(request):
    """Full scrolls waiting for their siyum, with the honour letters still to give."""
    return render(request, "siyum/list.html", {"scrolls": scrolls_awaiting_siyum()})


@staff_required
def siyum_hold(request, scroll_id):
    """Record the siyum of a full scroll: date, place, notes, the remaining honour letters; it
    asks for confirmation (a required checkbox), and the service refuses a second time."""
    scroll = scroll_awaiting_siyum(scroll_id=scroll_id)
    waiting = [reservation for reservation in scroll.honours if not reservation.is_given]
    data = request.POST or None
    form = SiyumForm(data)
    honour_forms = [
        (reservation, HonourForm(data, campaign=scroll.campaign, prefix=f"honour-{reservation.position}"))
        for reservation in waiting
    ]
    if request.method == "POST":
        valid = form.is_valid()
        valid = all([honour_form.is_valid() for _reservation, honour_form in honour_forms]) and valid
        if valid:
            honours_given = {
                reservation.position: {"name": honour_form.name_data(), "email": honour_form.cleaned_data["email"]}
                for reservation, honour_form in honour_forms
            }
            try:
                scroll_siyum_hold(
                    scroll_id=scroll.pk,
                    held_on=form.cleaned_data["held_on"],
                    place=form.cleaned_data["place"],
                    notes=form.cleaned_data["notes"],
                    honours=honours_given,
                    held_by=request.user,
                )
            except ValidationError as error:
                by_key = {f"honour_{reservation.position}": honour_form for reservation, honour_form in honour_forms}
                for key, key_messages in _messages_by_key(error).items():
                    if key in by_key:
                        by_key[key].add_error(None, key_messages)
                    else:
                        form.add_error(key if key in form.fields else None, key_messages)
            else:
                messages.success(
                    request, _("The siyum of %(scroll)s is recorded. Everyone holding a letter in it will be emailed.")
                    % {"scroll": scroll}
                )  # fmt: skip
                return redirect("scroll-detail", slug=scroll.campaign.slug, number=scroll.number)
    return render(request, "siyum/hold.html", {"scroll": scroll, "form": form, "honour_forms": honour_forms})
