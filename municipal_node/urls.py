from shared.core.urls import library_urlpatterns

urlpatterns = [*library_urlpatterns]

handler404 = "shared.core.views.not_found"
handler500 = "shared.core.views.server_error"
