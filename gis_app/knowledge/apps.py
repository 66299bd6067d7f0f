from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    """Answers for information calls: most 311 contacts are questions, not work."""

    name = "gis_app.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge base"
    default_auto_field = "django.db.models.BigAutoField"
