from django.apps import AppConfig


class GisAppConfig(AppConfig):
    name = "gis_app"
    verbose_name = "311 requests"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from gis_app.roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self)
