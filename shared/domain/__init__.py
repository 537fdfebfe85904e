"""Pure domain layer shared by the provincial hub and the municipal nodes.

Nothing in this package imports Django, DRF or Celery (an import-linter contract enforces it):
identifiers and check characters, holder codes, the licence status machine, the canonical form
and digests, and the working-day calendar. Import the submodules directly.
"""
