from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "Map layers"

    def ready(self) -> None:
        from layers import checks  # noqa: F401  (registers the system checks)
        from layers.memo import watch  # imports the cache settings, read once Django is set up
        from layers.models import LayerChange, LayerVersion  # models load once the registry is ready

        watch(LayerVersion, LayerChange)  # which maps are in force, remembered per process
