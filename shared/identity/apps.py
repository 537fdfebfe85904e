from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "shared.identity"
    label = "identity"
    verbose_name = "持证人注册与登录"
    default_auto_field = "django.db.models.BigAutoField"
