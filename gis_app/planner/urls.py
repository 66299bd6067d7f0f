from django.urls import path

from gis_app.planner import views

app_name = "planner"

urlpatterns = [
    path("planner/", views.page, name="page"),
    path("planner/runs/", views.runs, name="runs"),
    path("planner/runs/<int:pk>/", views.run, name="run"),
    path("planner/runs/<int:pk>/<str:name>", views.export, name="export"),
]
