"""gunicorn's access log: one line per request, whatever the path holds."""

import datetime
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from trialscreen.gunicorn_logging import AccessLogger

CONF = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))


def access_line(capsys, path_info: str) -> str:
    """What gunicorn, configured by gunicorn.conf.py, writes for a GET of ``path_info``
    (URL-decoded, as Django leaves it in the environ)."""
    config = Config()
    for name in ("accesslog", "access_log_format", "logger_class"):
        config.set(name, CONF[name])
    logger = config.logger_class(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/ignored",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": path_info,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "10.0.0.7",
    }
    response = SimpleNamespace(status="404 Not Found", sent=179, headers=[])
    request = SimpleNamespace(headers=[])
    capsys.readouterr()
    logger.access(response, request, environ, datetime.timedelta(milliseconds=12))
    return capsys.readouterr().out


def test_gunicorn_uses_the_escaping_logger():
    config = Config()
    config.set("logger_class", CONF["logger_class"])
    assert config.logger_class is AccessLogger


def test_a_line_feed_in_the_path_cannot_forge_a_log_line(capsys):
    forged = '/referrals/%0A10.0.0.9 [30/Nov/2026:10:00:00 +0800] "GET /exports/" 200'
    # What gunicorn makes of the request line's %0A: a real line feed.
    path_info = forged.replace("%0A", "\n")

    line = access_line(capsys, path_info)

    escaped = '/referrals/\\x0a10.0.0.9 [30/Nov/2026:10:00:00 +0800] \\"GET /exports/\\" 200'
    assert line.count("\n") == 1 and line.endswith("\n")
    assert f'"GET {escaped}"' in line
    assert line.startswith("10.0.0.7 [")
    assert line.rstrip("\n").endswith(" 404 179 0.012000s")


@pytest.mark.parametrize(
    ("path_info", "logged"),
    [
        ("/a\rb\x00c\x1bd\x7fe", "/a\\x0db\\x00c\\x1bd\\x7fe"),
        # NEL and the Unicode line separator end a line for some readers, too.
        ("/a\x85b", "/a\\x85b"),
        ("/a\u2028b", "/a\\u2028b"),
        # A backslash is doubled, so a path cannot spell an escape itself.
        ("/a\\x0ab", "/a\\\\x0ab"),
        # Printable text stays as it is.
        ("/转诊/ÿ", "/转诊/ÿ"),
    ],
)
def test_control_characters_are_escaped_and_text_is_kept(capsys, path_info, logged):
    assert f'"GET {logged}"' in access_line(capsys, path_info)
