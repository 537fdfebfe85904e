from django.apps import AppConfig


class HolderKeysConfig(AppConfig):
    name = "shared.holder_keys"
    label = "holder_keys"
    verbose_name = "持证主体代码密钥"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # shared.core reads holder codes; the versions retired here are refused there.
        from shared.core.holder_codes import register_retired_source
        from shared.holder_keys.selectors import holder_key_retired_versions

        register_retired_source(holder_key_retired_versions)
