from django.apps import AppConfig


class FieldApiConfig(AppConfig):
    name = "field_api"

    def ready(self) -> None:
        from field_api import schema  # noqa: F401  (registers the OpenAPI description of device tokens)
