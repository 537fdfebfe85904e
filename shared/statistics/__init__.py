"""Supervision statistics (art. 27, 31): monthly counters kept by a rollup, per city, agency, licence type."""
