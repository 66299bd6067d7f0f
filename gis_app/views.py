"""Staff and public pages. Thin: they render templates; data comes from the layers API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    """The city map: current wards drawn from the city's own layer; click anywhere to look it up."""
    return render(request, "gis_app/home.html")
