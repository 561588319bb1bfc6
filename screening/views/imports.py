"""Import in the browser: upload a file, read its preview, confirm (``import_uploads``)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from screening import access, import_uploads
from screening.forms.imports import MAX_UPLOAD_MB, ImportUploadForm
from screening.models import Referral
from screening.text import join_items

# Set by static/js/import_upload.js, which shows the upload's progress and then goes to the
# preview itself: it is answered 201 with the preview's address rather than redirected, so the
# preview is not worked out once for the script and again for the page.
SCRIPT_HEADER = "X-Import-Upload"


@require_http_methods(["GET", "POST"])
def import_upload(request):
    """The upload form; a file kept goes to its preview."""
    user = request.user
    access.require_importer(user)
    posted = request.method == "POST"
    form = ImportUploadForm(request.POST, request.FILES) if posted else ImportUploadForm()
    if posted and form.is_valid():
        if not request.session.session_key:
            request.session.save()
        file = form.cleaned_data["file"]
        upload = import_uploads.import_upload_create(
            user=user,
            session_key=request.session.session_key,
            file_name=file.name,
            content=file.read(),
        )
        address = reverse("import_preview", args=[upload.pk])
        if request.headers.get(SCRIPT_HEADER):
            return HttpResponse(status=201, headers={"Location": address})
        return redirect(address)
    context = {"form": form, "max_upload_mb": MAX_UPLOAD_MB, "sites": _site_names(user)}
    return render(request, "imports/upload.html", context, status=400 if form.errors else 200)


def _site_names(user) -> list[str]:
    return [site.display_name for site in access.editable_sites(user)]


def _expired(request):
    messages.error(request, _("That upload is more than an hour old; upload the file again."))
    return redirect("imports")


@require_http_methods(["GET", "POST"])
def import_preview(request, pk):
    """What importing the upload would do (GET, nothing saved); a POST with ``confirm``
    imports it, validated again, all rows or none."""
    user = request.user
    upload = access.import_upload_for_user(user, request.session.session_key, pk)
    if upload.status == upload.Status.IMPORTED:
        messages.info(request, _("This file has already been imported."))
        return redirect("referral_list")
    if import_uploads.is_expired(upload):
        return _expired(request)
    scope = {
        "sites": access.editable_sites(user),
        "visible_site_ids": access.visible_site_ids(user),
    }
    refusal = ""
    if request.method == "POST" and request.POST.get("confirm"):
        try:
            done = import_uploads.import_upload_confirm(upload=upload, user=user, **scope)
        except import_uploads.ImportRefused as refused:
            preview, refusal = refused.preview, refused.message
        else:
            counts = done.outcome_summary()
            message = ngettext(
                "Imported %(count)s referral from %(file)s: %(outcomes)s.",
                "Imported %(count)s referrals from %(file)s: %(outcomes)s.",
                len(done.imported),
            )
            messages.success(
                request,
                message
                % {
                    "count": len(done.imported),
                    "file": upload.file_name,
                    "outcomes": join_items([f"{label} {count}" for _c, label, count in counts]),
                },
            )
            return redirect("referral_list")
    else:
        preview = import_uploads.preview(upload, **scope)
    context = {
        "upload": upload,
        "preview": preview,
        "refusal": refusal,
        "outcomes": Referral.Outcome,
        "expires_at": upload.created_at + import_uploads.UPLOAD_LIFETIME,
    }
    return render(request, "imports/preview.html", context)
