from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = _("Trial screening")

    def ready(self):
        # Registers the deployment checks.
        from screening import checks  # noqa: F401

        post_migrate.connect(
            seal_audit_triggers_after_migrate, sender=self, dispatch_uid="screening_seal_triggers"
        )


def seal_audit_triggers_after_migrate(sender, using, verbosity=1, **kwargs):
    """Seal the audit trigger functions again (``screening.database_roles``): a migration that
    adds or changes a trigger has pgtrigger write its function anew, able to be switched off.

    Runs after every ``migrate``, also one that applied nothing, and after each ``flush``.
    """
    from screening.database_roles import seal_audit_triggers

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    sealed = seal_audit_triggers(connection)
    if sealed and verbosity >= 2:
        print(f"Sealed {len(sealed)} audit trigger functions.")
