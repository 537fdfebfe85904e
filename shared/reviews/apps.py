from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "shared.reviews"
    label = "reviews"
    verbose_name = "复核申请"
    default_auto_field = "django.db.models.BigAutoField"
