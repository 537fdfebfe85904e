"""Audited administration (art. 28): one row per administrative change, written by the service that makes it, in its transaction."""
