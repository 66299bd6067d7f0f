from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from gis_app import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("layers.urls")),
    path("", include("gis_app.api_urls")),
]
