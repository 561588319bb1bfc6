"""Each user's notifications: the list, and marking them read."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from screening import access, notifications
from screening.models import Notification

PAGE_SIZE = 50


@require_GET
def notification_list(request):
    """The user's notifications, newest first, 50 to a page, each linking to its referral while
    the user may see it. The same queries whatever their number."""
    user = request.user
    mine = (
        Notification.objects.filter(recipient=user)
        .select_related("referral")
        .only(
            "kind",
            "params",
            "created_at",
            "read_at",
            "referral__screening_number",
            "referral__site",
        )
    )
    page = Paginator(mine, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "notification": notification,
            "sentence": notification.sentence(),
            "referral": notification.referral
            if notification.referral and access.may_see_referral(user, notification.referral)
            else None,
        }
        for notification in page.object_list
    ]
    return render(request, "notifications/list.html", {"page": page, "rows": rows})


@require_POST
def notification_read(request, pk):
    """Mark one of the user's notifications read and open its referral, or come back to the
    list when there is none the user may see."""
    user = request.user
    notification = access.notification_for_user(user, pk)
    notifications.notification_mark_read(notification=notification)
    referral = notification.referral
    if referral and access.may_see_referral(user, referral):
        return redirect("referral_detail", referral.screening_number)
    return redirect("notifications")


@require_POST
def notifications_read(request):
    """Mark all the user's notifications read."""
    if notifications.notifications_mark_read(user=request.user):
        messages.success(request, _("All your notifications are marked as read."))
    return redirect("notifications")
