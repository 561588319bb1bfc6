"""Who may see and change what (issue 3; STYLE.md lesson 6).

Coordinators work on the referrals of their own sites and nothing else: another site's referral
answers 404, so its existence does not leak. MDT members and data managers see every site.
Clinical data is changed only by a coordinator of the referral's site or a data manager; anyone
else who may see the referral gets 403 when they try.

Roles and site ids are read once per request and kept on the user object, so a view, its
templates and the navigation share two queries at most.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from screening.models import Referral, Role, Site, user_roles

VIEW = "view"
EDIT = "edit"  # change clinical data or withdraw the referral
ACTIONS = (VIEW, EDIT)


def roles_of(user) -> set[str]:
    """The user's role codes (one query, then cached on the user for the request)."""
    if not hasattr(user, "_trialscreen_roles"):
        user._trialscreen_roles = user_roles(user)
    return user._trialscreen_roles


def _site_ids_of(user) -> frozenset[int]:
    """Ids of the sites a coordinator is bound to (one query, then cached)."""
    if not hasattr(user, "_trialscreen_site_ids"):
        user._trialscreen_site_ids = frozenset(user.sites.values_list("id", flat=True))
    return user._trialscreen_site_ids


def sees_every_site(user) -> bool:
    return bool(roles_of(user) & {Role.MDT, Role.ADMIN})


def is_coordinator(user) -> bool:
    return Role.COORDINATOR in roles_of(user)


def is_mdt_member(user) -> bool:
    return Role.MDT in roles_of(user)


def is_data_manager(user) -> bool:
    return Role.ADMIN in roles_of(user)


def referrals_for_user(user) -> QuerySet[Referral]:
    """Every referral the user may see: all for MDT and data managers, else their sites'."""
    if sees_every_site(user):
        return Referral.objects.all()
    if is_coordinator(user):
        return Referral.objects.filter(site_id__in=_site_ids_of(user))
    return Referral.objects.none()


def sites_for_user(user) -> QuerySet[Site]:
    """The sites whose referrals the user may see (the site filter of the list)."""
    if sees_every_site(user):
        return Site.objects.all()
    if is_coordinator(user):
        return Site.objects.filter(id__in=_site_ids_of(user))
    return Site.objects.none()


def editable_sites(user) -> QuerySet[Site]:
    """The sites at which the user may create and edit referrals (none for MDT members)."""
    if is_data_manager(user):
        return Site.objects.all()
    if is_coordinator(user):
        return Site.objects.filter(id__in=_site_ids_of(user))
    return Site.objects.none()


def may_create_referral(user) -> bool:
    return is_data_manager(user) or (is_coordinator(user) and bool(_site_ids_of(user)))


def may_edit_referral(user, referral: Referral) -> bool:
    """Whether the user may change this referral's clinical data or withdraw it (its role and
    site; whether the referral is still open is the workflow's business)."""
    if is_data_manager(user):
        return True
    return is_coordinator(user) and referral.site_id in _site_ids_of(user)


def require_referral_creator(user) -> None:
    """Raise PermissionDenied unless the user may enter new referrals."""
    if not may_create_referral(user):
        raise PermissionDenied


def referral_for_user(user, screening_number: str, *, action: str = VIEW) -> Referral:
    """The referral, or Http404 when the user may not see it, or PermissionDenied when the
    user may see it but not perform ``action`` (``VIEW`` or ``EDIT``).

    One query for the referral with its site and current evaluation, plus the cached role and
    site look-ups.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    referral = get_object_or_404(
        Referral.objects.select_related("site", "evaluation__protocol_version"),
        screening_number=screening_number,
    )
    may_see = sees_every_site(user) or (
        is_coordinator(user) and referral.site_id in _site_ids_of(user)
    )
    if not may_see:
        raise Http404
    if action == EDIT and not may_edit_referral(user, referral):
        raise PermissionDenied
    return referral
