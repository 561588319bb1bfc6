"""gunicorn's access log with control characters escaped (``logger_class`` in gunicorn.conf.py).

gunicorn logs the path URL-decoded (as Django leaves it in the environ: UTF-8 text), so
``/referrals/%0A...`` would write a raw line feed, and whatever follows it would read as a line
of its own, a forged request. Here every text of an access-log line has its control characters
written as ``\\xNN`` instead.
"""

import re

from gunicorn.glogging import Logger

# C0 and C1 control characters (line feed, carriage return, NEL ...), DEL, the Unicode line
# and paragraph separators, and the backslash, which is doubled so that no escape can be forged.
_ESCAPED = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\\\]")


def _escape_one(match: re.Match) -> str:
    character = match.group()
    if character == "\\":
        return "\\\\"
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with control characters as ``\\xNN`` (``\\uNNNN`` above U+00FF) and each
    backslash doubled; printable text, Chinese included, as it is."""
    return _ESCAPED.sub(_escape_one, text)


class AccessLogger(Logger):
    """gunicorn's logger, whose access-log lines hold no control characters."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            name: escape(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }
