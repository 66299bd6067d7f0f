from django.urls import path

from field_api.crew import views

app_name = "field_api"

urlpatterns = [
    path("api/crew/route/", views.TodaysRoute.as_view(), name="crew-route"),
    path("api/crew/routes/<int:pk>/", views.RouteDetail.as_view(), name="crew-route-detail"),
    path("api/crew/stops/<int:pk>/events/", views.StopEvents.as_view(), name="crew-stop-events"),
    path("api/crew/events/", views.EventBatch.as_view(), name="crew-event-batch"),
    path("api/dispatch/stops/<int:pk>/reopen/", views.ReopenStop.as_view(), name="reopen-stop"),
]
