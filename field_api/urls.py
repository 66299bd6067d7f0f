from django.urls import path

from field_api import open311, opendata, tablet
from field_api.crew import tablet_api, views
from field_api.open311 import updates as open311_updates

app_name = "field_api"

urlpatterns = [
    # The crew tablet page: an installable offline web app over the crew API.
    path("field/", tablet.field_page, name="field"),
    path("field/manifest.webmanifest", tablet.manifest, name="field-manifest"),
    path("field/sw.js", tablet.service_worker, name="field-sw"),
    path("field/photos/<str:token>/", tablet.photo, name="photo"),
    path("field/links/", tablet.sign_in_links, name="field-links"),
    path("api/crew/sign-in/", tablet_api.CrewSignIn.as_view(), name="crew-sign-in"),
    path("api/crew/routes/<int:pk>/map/", tablet_api.RouteMap.as_view(), name="crew-route-map"),
    path("api/crew/route/", views.TodaysRoute.as_view(), name="crew-route"),
    path("api/crew/routes/<int:pk>/", views.RouteDetail.as_view(), name="crew-route-detail"),
    path("api/crew/stops/<int:pk>/events/", views.StopEvents.as_view(), name="crew-stop-events"),
    path("api/crew/stops/<int:pk>/contact/", views.StopContact.as_view(), name="crew-stop-contact"),
    path("api/crew/events/", views.EventBatch.as_view(), name="crew-event-batch"),
    path("api/dispatch/stops/<int:pk>/reopen/", views.ReopenStop.as_view(), name="reopen-stop"),
    # Open311 GeoReport v2: the format is the URL's suffix (.json or .xml), as the spec has it.
    path("open311/v2/discovery.<str:fmt>", open311.discovery, name="open311-discovery"),
    path("open311/v2/services.<str:fmt>", open311.services, name="open311-services"),
    path("open311/v2/services/<str:code>.<str:fmt>", open311.service_definition, name="open311-service"),
    path("open311/v2/requests.<str:fmt>", open311.service_requests, name="open311-requests"),
    path("open311/v2/requests/<str:request_id>.<str:fmt>", open311.request_detail, name="open311-request"),
    path("opendata/requests.<str:fmt>", opendata.requests_export, name="opendata-requests"),
    path("opendata/exports/<uuid:pk>/", opendata.export_job, name="opendata-job"),
    path("opendata/exports/<uuid:pk>/file", opendata.export_file, name="opendata-file"),
    path("opendata/dictionary.json", opendata.dictionary, name="opendata-dictionary"),
    path("open311/v2/tokens/<str:token>.<str:fmt>", open311_updates.token, name="open311-token"),
    path(
        "open311/v2/servicerequestupdates.<str:fmt>",
        open311_updates.service_request_updates,
        name="open311-updates",
    ),
]
