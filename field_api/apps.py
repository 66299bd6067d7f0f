from django.apps import AppConfig


class FieldApiConfig(AppConfig):
    name = "field_api"

    def ready(self) -> None:
        from field_api import schema  # noqa: F401  (registers the OpenAPI description of device tokens)
        from field_api.models import Open311Key  # models load once the app registry is ready
        from layers.memo import watch  # with the models it watches

        watch(Open311Key)  # the keys are kept per process (field_api.open311.keys): issuing or revoking drops them
