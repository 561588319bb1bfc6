"""The Django admin for data managers: protocol amendments, the trial's data read-only, and
resetting the two-step sign-in of someone who lost their phone.

Clinical data changes only through the services (views, commands), which evaluate, enforce the
workflow and lock rows; the admin must not offer a side door, so every model but
``ProtocolVersion`` and the sites' names is view-only here, and a protocol version is never
changed once adopted: an amendment is a new version.

Everything a data manager reads here is in the interface's language, third-party models too
(the audit trail of django-pghistory, the authenticators of django-otp): their own labels are
plain English, so this module names them.
"""

import json
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import DateTimeField
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from pghistory.admin import EventsAdmin
from pghistory.admin.core import EventModelFilter, LabelFilter
from pghistory.models import MiddlewareEvents

from screening import access, amendments, consort, models, rules
from screening.forms.amendments import ProtocolAmendmentForm
from screening.text import join_clauses, join_items, local_minute
from trialscreen.accounts import second_factor_reset, second_factor_resets

admin.site.site_header = _("TrialScreen administration")
admin.site.site_title = _("TrialScreen administration")

# Django's admin index heads its tables with these; its Chinese catalogue does not have them.
gettext_noop("Model name")
gettext_noop("Add link")
gettext_noop("Change or view list link")
gettext_noop("Error:")

# The third-party apps and models a data manager sees, named for translation. Only the names
# shown change (not ``Meta.original_attrs``), so their migrations are left as they are.
apps.get_app_config("pghistory").verbose_name = _("Audit trail")
apps.get_app_config("otp_totp").verbose_name = _("Two-step sign-in")
MiddlewareEvents._meta.verbose_name = _("recorded change")
MiddlewareEvents._meta.verbose_name_plural = _("recorded changes")
TOTPDevice._meta.verbose_name = _("authenticator")
TOTPDevice._meta.verbose_name_plural = _("authenticators")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listed and shown to those with the view permission; never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ("screening_number", "site", "referral_date", "status", "outcome")
    list_filter = ("site", "status", "outcome", "referral_date")
    list_select_related = ("site",)
    search_fields = ("screening_number", "hospital_number", "full_name")
    date_hierarchy = "referral_date"


@admin.register(models.Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = ("referral", "protocol_version", "outcome", "created_at", "created_by")
    list_filter = ("outcome", "protocol_version")
    list_select_related = ("referral", "protocol_version", "created_by")
    search_fields = ("referral__screening_number",)


class RejectionReasonFilter(admin.SimpleListFilter):
    """A rejection's reason: a criterion code or "Other"."""

    title = _("reason")
    parameter_name = "reason_code"

    def lookups(self, request, model_admin):
        return [*((code, code) for code in rules.CODES), ("other", _("Other"))]

    def queryset(self, request, queryset):
        return queryset.filter(reason_code=self.value()) if self.value() else queryset


@admin.register(models.MdtDecision)
class MdtDecisionAdmin(ReadOnlyAdmin):
    list_display = (
        "referral",
        "decision",
        "reason",
        "decided_by",
        "decided_at",
        "superseded_at",
    )
    list_filter = ("decision", RejectionReasonFilter)
    list_select_related = ("referral", "decided_by")
    search_fields = ("referral__screening_number",)

    @admin.display(description=_("reason"), ordering="reason_code")
    def reason(self, decision):
        """A rejection's criterion code, which reads the same in every language, or "Other"."""
        if not decision.reason_code:
            return "–"
        return decision.reason_code if decision.reason_code in rules.CODES else _("Other")


@admin.register(models.Enrolment)
class EnrolmentAdmin(ReadOnlyAdmin):
    list_display = ("study_number", "referral", "consent_date", "enrolled_at", "enrolled_by")
    list_select_related = ("referral", "enrolled_by")
    search_fields = ("study_number", "referral__screening_number")


@admin.register(models.Site)
class SiteAdmin(ReadOnlyAdmin):
    """The sites' names, in English and in Chinese, may be corrected; nothing else."""

    list_display = ("code", "name", "name_zh")
    fields = ("code", "name", "name_zh")
    readonly_fields = ("code",)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or access.is_data_manager(request.user)


class FileFormatFilter(admin.SimpleListFilter):
    """An export's file format, named as the exports page names it: CSV, XLSX, XML."""

    title = _("format")
    parameter_name = "file_format"

    def lookups(self, request, model_admin):
        return [("csv", "CSV"), ("xlsx", "XLSX"), ("xml", "XML")]

    def queryset(self, request, queryset):
        return queryset.filter(file_format=self.value()) if self.value() else queryset


@admin.register(models.ExportLog)
class ExportLogAdmin(ReadOnlyAdmin):
    list_display = (
        "exported_at",
        "exported_by",
        "kind",
        "file_format_name",
        "site",
        "referred_from",
        "referred_to",
        "row_count",
    )
    list_filter = ("kind", FileFormatFilter)
    list_select_related = ("exported_by", "site")

    @admin.display(description=_("format"), ordering="file_format")
    def file_format_name(self, log):
        return log.file_format.upper()


@admin.register(models.ProtocolVersion)
class ProtocolVersionAdmin(admin.ModelAdmin):
    """Amend the protocol by adding a version, prefilled from the one in force."""

    form = ProtocolAmendmentForm
    list_display = (
        "version",
        "effective_date",
        "enrolment_target",
        "age_min",
        "age_max",
        "created_by",
        "created_at",
        "outcome_changes_link",
    )
    list_select_related = ("created_by",)
    fieldsets = (
        (
            _("Amendment"),
            {
                "description": _(
                    "Adopting this as the next version re-evaluates every referral that is not "
                    "enrolled, rejected or withdrawn; earlier evaluations keep their version. "
                    "The preview shows whose outcome would change before anything is adopted."
                ),
                "fields": ("effective_date", "note"),
            },
        ),
        (
            _("Enrolment"),
            {
                "fields": (
                    "enrolment_target",
                    ("accrual_start", "accrual_end"),
                    "study_number_format",
                )
            },
        ),
        (_("I1 age"), {"fields": (("age_min", "age_max"),)}),
        (
            _("I4 and I5 blood panel"),
            {
                "fields": (
                    "labs_max_age_days",
                    ("alt_max", "ast_max", "total_bilirubin_max"),
                    ("creatinine_max", "creatinine_clearance_min"),
                    ("wbc_min", "anc_min", "platelets_min", "hemoglobin_min"),
                )
            },
        ),
        (_("I6 cardiopulmonary function"), {"fields": (("ecog_max", "lvef_min", "fev1_min"),)}),
        (
            _("E2 dose constraints"),
            {
                "fields": (
                    ("lung_v20_max", "lung_mean_dose_max"),
                    ("heart_v30_max", "spinal_cord_max"),
                )
            },
        ),
    )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        # A version in force is shown whole, with who adopted it and when.
        return (
            (None, {"fields": ("version", "created_by", "created_at")}),
            *self.fieldsets,
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("version", "created_by", "created_at", *amendments.AMENDABLE_FIELDS)

    def get_changeform_initial_data(self, request):
        current = models.ProtocolVersion.current()
        initial = {name: getattr(current, name) for name in amendments.AMENDABLE_FIELDS}
        initial["note"] = ""
        initial["effective_date"] = max(current.effective_date, timezone.localdate())
        # The preview's "Change the values" comes back with them in the query string.
        return initial | super().get_changeform_initial_data(request)

    def add_view(self, request, form_url="", extra_context=None):
        """Amend in two steps: the form posts to a preview of what would change, and only the
        preview's "Adopt amendment", carrying the values it showed, adopts them."""
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.get_form(request)(request.POST)
        if not form.is_valid():
            # The admin shows the errors; an invalid form saves nothing.
            return super().add_view(request, form_url, extra_context)
        previewed = request.POST.get("_previewed", "")
        if "_adopt" in request.POST and constant_time_compare(
            previewed, _values_signature(form.cleaned_data)
        ):
            return super().add_view(request, form_url, extra_context)
        changed_since = "_adopt" in request.POST
        return self.preview_view(request, form, changed_since=changed_since)

    def preview_view(self, request, form, *, changed_since: bool):
        """What adopting the form's values would change, computed without writing."""
        current = models.ProtocolVersion.current()
        preview = amendments.protocol_amend_preview(**form.cleaned_data)
        proposed = models.ProtocolVersion(**form.cleaned_data)
        differences = [
            {
                "label": form.fields[name].label,
                "current": getattr(current, name),
                "proposed": getattr(proposed, name),
            }
            for name in amendments.AMENDABLE_FIELDS
            if name not in ("note", "effective_date")
            and getattr(current, name) != getattr(proposed, name)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview of version %(version)s") % {"version": current.version + 1},
            "form": form,
            "proposed": proposed,
            "differences": differences,
            "preview": preview,
            "consort_rows": consort.flow_table([preview.before, preview.after], proposed.limits()),
            "signature": _values_signature(form.cleaned_data),
            "edit_query": urlencode(
                {name: form[name].value() or "" for name in amendments.AMENDABLE_FIELDS}
            ),
            "changed_since": changed_since,
        }
        return TemplateResponse(
            request, "admin/screening/protocolversion/amendment_preview.html", context
        )

    @admin.display(description=_("outcome changes"))
    def outcome_changes_link(self, obj):
        if obj.version == 1:
            return "–"
        url = reverse("admin:screening_protocolversion_outcome_changes", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("show"))

    def save_model(self, request, obj, form, change):
        # The service numbers, saves and re-evaluates; the admin's own save would do none of it.
        protocol, _changes = amendments.protocol_amend(user=request.user, **form.cleaned_data)
        obj.pk, obj.version = protocol.pk, protocol.version
        obj.created_at, obj.created_by = protocol.created_at, protocol.created_by

    def response_add(self, request, obj, post_url_continue=None):
        changes = amendments.protocol_outcome_changes(protocol=obj)
        self.message_user(
            request,
            ngettext(
                "Protocol version %(version)s adopted: %(count)s referral changed outcome.",
                "Protocol version %(version)s adopted: %(count)s referrals changed outcome.",
                len(changes),
            )
            % {"version": obj.version, "count": len(changes)},
            messages.SUCCESS,
        )
        url = reverse("admin:screening_protocolversion_outcome_changes", args=[obj.pk])
        return HttpResponseRedirect(url)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/outcome-changes/",
                self.admin_site.admin_view(self.outcome_changes_view),
                name="screening_protocolversion_outcome_changes",
            ),
            *super().get_urls(),
        ]

    def outcome_changes_view(self, request, object_id):
        """Whose outcome changed when a version was adopted: screening number, old, new."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        protocol = get_object_or_404(models.ProtocolVersion, pk=object_id)
        site_names = {site.code: site.display_name for site in models.Site.objects.all()}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Outcome changes on adopting version %(version)s")
            % {"version": protocol.version},
            "protocol": protocol,
            # Each change beside its site's name in the reader's language.
            "changes": [
                (change, site_names[change.site])
                for change in amendments.protocol_outcome_changes(protocol=protocol)
            ],
        }
        return TemplateResponse(
            request, "admin/screening/protocolversion/outcome_changes.html", context
        )


def _values_signature(values: dict) -> str:
    """A keyed hash of an amendment's values: the adoption must carry the values previewed.

    Line ends are compared as "\\n": a browser may send a note's lines back from the hidden
    field with other line ends than it sent them from the text area."""
    text = repr(
        sorted(
            (name, str(value).replace("\r\n", "\n").replace("\r", "\n"))
            for name, value in values.items()
        )
    )
    return salted_hmac("screening.admin.amendment-preview", text).hexdigest()


class ConfirmedFilter(admin.BooleanFieldListFilter):
    """django-otp's ``confirmed`` field, titled in the reader's language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("confirmed")


# django-otp's own admin shows and edits authenticators' secrets; this one never does.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(ReadOnlyAdmin):
    """Who has an authenticator, and the reset of two-step sign-in after a lost phone.

    Nothing is added or changed here and no secret is shown: the first person to set up an
    authenticator on the set-up page, signed in with the account's password, owns it
    (trialscreen/accounts.py). Access is by role, as everywhere else (screening/access.py), not
    by Django permissions; data managers neither see nor reset superusers' authenticators.
    """

    # django-otp's fields carry English labels and help texts; these columns say the same.
    list_display = ("holder", "device_name", "is_confirmed", "set_up_at", "last_used")
    list_display_links = None
    list_filter = (("confirmed", ConfirmedFilter),)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    fields = list_display
    readonly_fields = list_display
    actions = ["reset_two_step_sign_in"]

    @admin.display(description=_("user"), ordering="user__username")
    def holder(self, device):
        return device.user.get_username()

    @admin.display(description=_("authenticator name"), ordering="name")
    def device_name(self, device):
        return device.name

    @admin.display(description=_("confirmed"), boolean=True, ordering="confirmed")
    def is_confirmed(self, device):
        return device.confirmed

    @admin.display(description=_("set up at"), ordering="created_at")
    def set_up_at(self, device):
        return local_minute(device.created_at) or "–"

    @admin.display(description=_("last used at"), ordering="last_used_at")
    def last_used(self, device):
        return local_minute(device.last_used_at) or "–"

    def _may_reset(self, request) -> bool:
        return request.user.is_superuser or access.is_data_manager(request.user)

    def has_module_permission(self, request):
        return self._may_reset(request)

    def has_view_permission(self, request, obj=None):
        return self._may_reset(request)

    def has_reset_permission(self, request):
        return self._may_reset(request)

    def get_queryset(self, request):
        devices = super().get_queryset(request)
        if request.user.is_superuser:
            return devices
        return devices.filter(user__is_superuser=False)

    @admin.action(
        description=_("Reset two-step sign-in of the selected users"), permissions=["reset"]
    )
    def reset_two_step_sign_in(self, request, queryset):
        users = list(
            get_user_model().objects.filter(pk__in=queryset.values("user_id")).order_by("username")
        )
        for user in users:
            second_factor_reset(user=user, by=request.user)
        self.message_user(
            request,
            _(
                "Two-step sign-in reset for %(users)s: their authenticators are removed, and "
                "they can set up a new one after signing in with their password."
            )
            % {"users": join_items([user.get_username() for user in users])},
            messages.SUCCESS,
        )

    def get_urls(self):
        return [
            path(
                "resets/",
                self.admin_site.admin_view(self.resets_view),
                name="otp_totp_totpdevice_resets",
            ),
            *super().get_urls(),
        ]

    def resets_view(self, request):
        """Every reset of two-step sign-in, from the audit trail: when, by whom, for whom."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Two-step sign-in resets"),
            "resets": second_factor_resets(),
        }
        return TemplateResponse(request, "admin/otp_totp/totpdevice/resets.html", context)


# What pghistory's trackers record, as the audit trail's "what happened" column says it.
EVENT_LABELS = {
    "insert": _("Created"),
    "update": _("Changed"),
    "delete": _("Deleted"),
}


def _value_text(field, value) -> str:
    """A recorded value as the interface shows it: a choice's label, yes/no, "empty"."""
    if value is None or value == "":
        return gettext("empty")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, DateTimeField) and isinstance(value, str):
        return local_minute(parse_datetime(value))
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def recorded_values(model_label: str, values: dict, *, changed: bool) -> str:
    """``values`` of a row of ``model_label`` (pghistory's data or diff) in words:
    "status: Screening → MDT review; ALT: 120" with the fields' names and choices' labels."""
    try:
        model = apps.get_model(model_label)
    except LookupError:
        model = None
    clauses = []
    for name, value in values.items():
        try:
            field = model._meta.get_field(name) if model else None
        except FieldDoesNotExist:
            field = None
        if field is not None and field.primary_key:
            continue  # the record's number, shown beside its kind
        label = field.verbose_name if field is not None else name
        if changed:
            old, new = value
            text = f"{_value_text(field, old)} → {_value_text(field, new)}"
        else:
            text = _value_text(field, value)
        clauses.append(gettext("%(field)s: %(value)s") % {"field": label, "value": text})
    return join_clauses(clauses)


def _model_name(label: str) -> str:
    try:
        return capfirst(apps.get_model(label)._meta.verbose_name)
    except LookupError:
        return label


class RecordedActionFilter(LabelFilter):
    title = _("what happened")

    def lookups(self, request, model_admin):
        return [
            (label, EVENT_LABELS.get(label, label))
            for label, _ in super().lookups(request, model_admin)
        ]


class RecordedModelFilter(EventModelFilter):
    title = _("record")

    def lookups(self, request, model_admin):
        return sorted(
            (
                (value, _model_name(apps.get_model(value).pgh_tracked_model._meta.label))
                for value, _label in super().lookups(request, model_admin)
            ),
            key=lambda lookup: lookup[1],
        )


class AuditTrailAdmin(EventsAdmin):
    """The whole audit trail, read-only (settings.PGHISTORY_ADMIN_CLASS): every recorded
    change of every audited table, with who made it and from where, in the reader's words."""

    list_display = ("when", "record", "action", "changes", "changed_by", "source")
    fields = ("when", "record", "action", "changes", "recorded_row", "changed_by", "source")
    readonly_fields = fields

    def get_list_display(self, request):
        return self.list_display

    def change_view(self, request, object_id, form_url="", extra_context=None):
        event = self.get_object(request, object_id)
        # pghistory's events have no name of their own ("MiddlewareEvents object (...)").
        named = {"subtitle": self.record(event)} if event else {}
        return super().change_view(request, object_id, form_url, {**named, **(extra_context or {})})

    def get_list_filter(self, request):
        replaced = {LabelFilter: RecordedActionFilter, EventModelFilter: RecordedModelFilter}
        return [replaced.get(each, each) for each in super().get_list_filter(request)]

    @admin.display(description=_("when"), ordering="pgh_created_at")
    def when(self, event):
        return local_minute(event.pgh_created_at)

    @admin.display(description=_("record"))
    def record(self, event):
        return f"{_model_name(event.pgh_obj_model)} #{event.pgh_obj_id}"

    @admin.display(description=_("what happened"))
    def action(self, event):
        return EVENT_LABELS.get(event.pgh_label, event.pgh_label)

    @admin.display(description=_("changes"))
    def changes(self, event):
        if not event.pgh_diff:
            return "–"
        return recorded_values(event.pgh_obj_model, event.pgh_diff, changed=True)

    @admin.display(description=_("recorded row"))
    def recorded_row(self, event):
        return recorded_values(event.pgh_obj_model, event.pgh_data or {}, changed=False)

    @admin.display(description=_("user"))
    def changed_by(self, event):
        return event.user.get_username() if event.user else "–"

    @admin.display(description=_("request or command"))
    def source(self, event):
        context = event.pgh_context or {}
        return context.get("url") or context.get("command") or "–"
