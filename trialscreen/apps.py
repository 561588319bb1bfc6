from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class TrialScreenConfig(AppConfig):
    """The project package as an app, so that sign-in signals are connected at start-up."""

    name = "trialscreen"
    verbose_name = "TrialScreen"

    def ready(self):
        from trialscreen import accounts

        user_logged_in.connect(
            accounts.mark_session_renewed, dispatch_uid="trialscreen_session_renewed"
        )
        user_logged_in.connect(
            accounts.remember_second_factor_due, dispatch_uid="trialscreen_second_factor_due"
        )
