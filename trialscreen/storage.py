"""Static files as deployed (``STORAGES["staticfiles"]`` with ``DEBUG`` off)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's hashed, compressed files, each file's URL worked out once: the manifest
    does not change while the server runs, and every page asks for the same few files (the
    templates name them; none comes from a request)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        if name not in self._urls:
            self._urls[name] = super().url(name)
        return self._urls[name]
