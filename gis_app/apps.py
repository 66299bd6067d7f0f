from django.apps import AppConfig


class GisAppConfig(AppConfig):
    name = "gis_app"
    verbose_name = "311 requests"

    def ready(self) -> None:
        # Imported once the app registry is ready: roles reads the auth models, which cannot load earlier.
        from django.db.models.signals import post_migrate

        from gis_app import checks  # noqa: F401  (registers the system checks)
        from gis_app.roles import ensure_roles  # see above: needs the app registry

        post_migrate.connect(ensure_roles, sender=self)
        from gis_app import models as m  # models load once the registry is ready
        from layers.memo import watch  # imports the cache settings, read once Django is set up

        # What intake reads on every report, remembered per process until one of these changes.
        watch(m.ServiceType, m.ServiceAttribute, m.Department, m.DepartmentRule, m.Holiday, m.StormMode)
        watch(m.WebhookEndpoint)
