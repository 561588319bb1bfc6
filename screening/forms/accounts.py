"""The second factor's code."""

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Six-digit code"),
        max_length=20,
        validators=[
            RegexValidator(r"^[0-9]{6}$", _("Enter the six digits your authenticator app shows."))
        ],
    )

    def clean_token(self):
        # Apps show the code as "123 456"; people copy it that way.
        return self.cleaned_data["token"].replace(" ", "")
