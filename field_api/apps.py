from django.apps import AppConfig


class FieldApiConfig(AppConfig):
    name = "field_api"
