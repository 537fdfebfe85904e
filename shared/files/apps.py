from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "shared.files"
    label = "files"
    verbose_name = "证照文件与验证"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.files import licence_field, printable, receivers

        receivers.connect()
        licence_field.register()  # a licence's `file` field, and its schema
        printable.register()  # the print check of every new licence version
