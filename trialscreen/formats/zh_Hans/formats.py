from trialscreen.formats.en.formats import *  # noqa: F403
