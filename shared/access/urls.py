"""Pages and endpoints outside /api/v1/ (none yet)."""

urlpatterns: list = []
