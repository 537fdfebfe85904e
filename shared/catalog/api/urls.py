from rest_framework.routers import SimpleRouter

from shared.catalog.api.views import LicenseTypeViewSet

router = SimpleRouter()
router.register("catalog/types", LicenseTypeViewSet, basename="license-type")
urlpatterns = router.urls
