"""Forms by the user's area, mirroring ``screening.views``."""
