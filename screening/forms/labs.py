"""Forms of the laboratory results intake: the Bundle, then the values the user accepts."""

from django import forms
from django.utils.translation import gettext_lazy as _

from screening import fhir_labs, units
from screening.forms.fields import NotesField


class BundleForm(forms.Form):
    """A FHIR R4 Bundle, uploaded (``file``) or pasted (``bundle``)."""

    file = forms.FileField(label=_("Bundle file (JSON)"), required=False)
    bundle = forms.CharField(
        label=_("Or paste the Bundle"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )

    def clean(self):
        upload, pasted = self.cleaned_data.get("file"), self.cleaned_data.get("bundle", "")
        if upload and pasted.strip():
            raise forms.ValidationError(_("Upload a file or paste a Bundle, not both."))
        if not upload and not pasted.strip():
            raise forms.ValidationError(_("Upload the laboratory system's Bundle or paste it."))
        if upload:
            if upload.size > fhir_labs.MAX_BUNDLE_CHARS:
                raise forms.ValidationError(
                    _("The file is larger than %(limit)s characters: export one patient's results.")
                    % {"limit": fhir_labs.MAX_BUNDLE_CHARS}
                )
            try:
                self.cleaned_data["content"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
            self.cleaned_data["file_name"] = upload.name
        else:
            self.cleaned_data["content"] = pasted
            self.cleaned_data["file_name"] = str(_("pasted text"))
        return self.cleaned_data


class AcceptForm(forms.Form):
    """Which proposed values to save (``accept_<key>``) and the reason for the change."""

    change_reason = NotesField(
        label=_("Reason for the change"),
        rows=2,
        initial=_("Results from the laboratory system"),
        help_text=_("Kept in the referral's history beside the change."),
        error_messages={"required": _("Give the reason for the change.")},
    )

    def __init__(self, *args, proposed_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        for key in units.LAB_KEYS:
            if key in proposed_keys:
                self.fields[f"accept_{key}"] = forms.BooleanField(required=False, initial=True)

    def accepted_keys(self) -> list[str]:
        return [
            name.removeprefix("accept_")
            for name, value in self.cleaned_data.items()
            if name.startswith("accept_") and value
        ]
