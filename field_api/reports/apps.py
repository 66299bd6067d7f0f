from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Ward maps for council members, standard reports and the weekly department review."""

    name = "field_api.reports"
    label = "reports"
    verbose_name = "Council and reports"
    default_auto_field = "django.db.models.BigAutoField"
