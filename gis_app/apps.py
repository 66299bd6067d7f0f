from django.apps import AppConfig


class GisAppConfig(AppConfig):
    name = "gis_app"
    verbose_name = "311 requests"
