"""Database sessions (``SESSION_ENGINE``), each read with one SQL statement.

Every signed-in request loads its session first; Django's store builds that SELECT with the
ORM, which took longer than the database took to answer it. Saving, expiry and the table are
Django's own.
"""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The session while it has not expired, as Django's store reads it; else None, and the
        key is dropped so that a new session gets a new one."""
        model = self.model
        database = connections[router.db_for_read(model)]
        table = database.ops.quote_name(model._meta.db_table)
        with database.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} "  # noqa: S608 - the model's table
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])
