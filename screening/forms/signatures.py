"""The electronic signature of an act (PROTOCOL section 6): the signer's password again and,
when the signer has an authenticator, its current code."""

from django import forms
from django.contrib.auth import authenticate, user_login_failed
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice


class SignedForm(forms.Form):
    """A form whose act is signed: ``password`` and, for a user with a confirmed authenticator,
    ``otp_token``. A wrong one refuses the act and counts as a failed sign-in (django-axes
    counts the failures ``authenticate`` and ``user_login_failed`` report).

    ``request`` is the signer's request. ``second_factor`` tells, once valid, whether a code
    was checked.
    """

    password = forms.CharField(
        label=_("Your password, to sign"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Give your password to sign.")},
    )
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"required": _("Give the current code of your authenticator app.")},
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.devices = list(TOTPDevice.objects.devices_for_user(request.user, confirmed=True))
        self.second_factor = bool(self.devices)
        if not self.devices:
            del self.fields["otp_token"]

    def clean(self):
        data = super().clean()
        user = self.request.user
        password = data.get("password")
        if password is not None:
            signer = authenticate(self.request, username=user.get_username(), password=password)
            if signer is None or signer.pk != user.pk:
                self.add_error("password", _("That password is not right: nothing was signed."))
                return data
        token = (data.get("otp_token") or "").replace(" ", "")
        if self.devices and token and not any(d.verify_token(token) for d in self.devices):
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            self.add_error("otp_token", _("That code is not right: nothing was signed."))
        return data
