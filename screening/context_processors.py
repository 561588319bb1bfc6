"""Template context every page needs for its navigation."""

from screening import access, notifications


def navigation(request):
    """Which sections the signed-in user may open (the role query is cached for the request)."""
    user = getattr(request, "user", None)
    if user is None:  # refused before authentication, for example for its Host header
        return {}
    reads_reports = access.is_mdt_member(user) or access.is_data_manager(user)
    return {
        "may_create_referral": access.may_create_referral(user),
        "nav_mdt_queue": reads_reports,
        "nav_exports": access.is_data_manager(user),
        "nav_consort": reads_reports,
        "nav_audit": access.is_data_manager(user),
        # Two-step sign-in is offered to every role (required of some: trialscreen/accounts.py).
        "nav_two_step": reads_reports or access.is_coordinator(user),
    }


def unread_notifications(request):
    """The signed-in user's unread notifications for the badge in the navigation: counted (one
    query) only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications.Unread(user)}
