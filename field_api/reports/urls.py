from django.urls import path

from field_api.reports import views

app_name = "reports"

urlpatterns = [
    path("council/", views.council, name="council"),
    path("council/wards.json", views.ward_figures, name="ward-figures"),
    path("council/wards/<int:ward>/", views.ward_page, name="ward"),
    path("council/wards/<int:ward>/map.html", views.ward_map_file, name="ward-map"),
    path("reports/", views.reports_page, name="reports"),
    path("reports/table.csv", views.reports_csv, name="csv"),
    path("reports/wards-map.html", views.reports_map_file, name="wards-map"),
    path("reports/weekly/", views.weekly, name="weekly"),
]
