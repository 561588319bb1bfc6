"""The import page's upload."""

from django import forms
from django.utils.translation import gettext_lazy as _

from screening.import_uploads import MAX_UPLOAD_BYTES

MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)


class ImportUploadForm(forms.Form):
    """A JSON or CSV file of referrals (PROTOCOL section 7), at most ``MAX_UPLOAD_BYTES``."""

    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,text/csv,application/json"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in here, in the reader's language: at import time it would stay English.
        self.fields["file"].help_text = _(
            "A UTF-8 CSV with one column per field, or a JSON array of objects; at most "
            "%(limit)s MB."
        ) % {"limit": MAX_UPLOAD_MB}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s bytes; the limit is %(limit)s MB."),
                code="too_large",
                params={"size": upload.size, "limit": MAX_UPLOAD_MB},
            )
        return upload
