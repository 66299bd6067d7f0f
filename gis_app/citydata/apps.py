from django.apps import AppConfig


class CityDataConfig(AppConfig):
    """Its own app only so that its management commands are found beside its code; it has no models."""

    name = "gis_app.citydata"
    label = "citydata"
    verbose_name = "City-data kit"
