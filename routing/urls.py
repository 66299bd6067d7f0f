from django.urls import path

from routing import views

app_name = "routing"

urlpatterns = [
    path("dispatch/", views.dispatch, name="dispatch"),
    path("dispatch/run/", views.run, name="run"),
    path("dispatch/runs/<int:pk>.json", views.run_status, name="run-status"),
    path("dispatch/plans/<int:pk>.geojson", views.plan_geojson, name="plan-geojson"),
    path("dispatch/plans/<int:pk>/pin/", views.pin, name="pin"),
    path("dispatch/plans/<int:pk>/publish/", views.publish, name="publish"),
]
