"""Browser views by the user's area. Sign-in is required everywhere except ``health`` and the
sign-in pages (``LoginRequiredMiddleware``); each view's first line asks ``access``."""
