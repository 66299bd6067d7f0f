"""Template context every page needs: the city's name for titles and map attributions, and its word for its
districts (Chicago's wards, San Francisco's supervisor districts): pages say the city's own word."""

from django.conf import settings
from django.http import HttpRequest


def city(request: HttpRequest) -> dict[str, str]:
    one, many = settings.CITY_DISTRICT_WORD, settings.CITY_DISTRICTS_WORD
    return {
        "CITY_NAME": settings.CITY_NAME,
        "district": one,
        "districts": many,
        "District": one[:1].upper() + one[1:],
        "Districts": many[:1].upper() + many[1:],
    }
