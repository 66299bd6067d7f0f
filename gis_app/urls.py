from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gis_app import health, public_views, two_factor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/two-factor/", two_factor.two_factor, name="two-factor"),
    path("accounts/", include("django.contrib.auth.urls")),  # staff sign-in for the dispatcher and other pages
    path("i18n/", include("django.conf.urls.i18n")),  # the public pages' language switch
    path("intake/", views.intake, name="intake"),
    path("intake/to-confirm/", views.to_confirm, name="to-confirm"),
    path("track/", public_views.track, name="track"),
    path("track/<str:ticket>/", public_views.track_detail, name="track-detail"),
    path("track/<str:ticket>/proof.jpg", public_views.track_proof, name="track-proof"),
    path("survey/<str:token>/", public_views.survey, name="survey"),
    path("requests/open.geojson", public_views.requests_geojson, name="open-requests"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("start/", views.start, name="start"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("layers.urls")),
    path("", include("gis_app.api_urls")),
    path("", include("gis_app.knowledge.urls")),
    path("", include("gis_app.planner.urls")),
    # Higher apps' URLs by name (a string include, not an import: the layering stays one-way).
    path("", include("routing.urls")),
    path("", include("field_api.urls")),
    path("", include("field_api.reports.urls")),
    # Anything else under an API prefix answers in that API's error shape, never with an HTML page.
    re_path(r"^(?:api|open311)/", views.api_not_found),
]
