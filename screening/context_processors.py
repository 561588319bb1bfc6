"""Template context every page needs for its navigation."""

from screening import access


def navigation(request):
    """Whether to offer "New referral" (the role query is cached for the request)."""
    return {"may_create_referral": access.may_create_referral(request.user)}
