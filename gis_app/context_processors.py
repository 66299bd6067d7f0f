"""Template context every page needs: the city's name for titles and map attributions."""

from django.conf import settings
from django.http import HttpRequest


def city(request: HttpRequest) -> dict[str, str]:
    return {"CITY_NAME": settings.CITY_NAME}
