"""Static files as deployed (DEBUG off): collected under hashed names, each URL worked out once."""

import re

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command


@pytest.fixture
def deployed_static(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "trialscreen.storage.StaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return tmp_path


def test_pages_name_the_collected_files_by_their_hashed_names(deployed_static):
    url = staticfiles_storage.url("css/trialscreen.css")

    assert re.fullmatch(r"/static/css/trialscreen\.[0-9a-f]{12}\.css", url)
    assert staticfiles_storage.url("css/trialscreen.css") == url
    assert (deployed_static / url.removeprefix("/static/")).is_file()


@pytest.mark.usefixtures("deployed_static")
def test_a_file_that_was_not_collected_is_an_error_every_time():
    for _attempt in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            staticfiles_storage.url("css/not-there.css")
