from django.urls import path

from gis_app import api, api_edit

urlpatterns = [
    path("api/services/", api.ServiceTypeList.as_view(), name="services"),
    path("api/requests/", api.RequestCreate.as_view(), name="request-create"),
    path("api/requests/candidates/", api.CandidateList.as_view(), name="request-candidates"),
    path("api/requests/<str:ticket>/", api.RequestDetail.as_view(), name="request-detail"),
    path("api/requests/<str:ticket>/actions/", api.RequestAction.as_view(), name="request-action"),
    path("api/requests/<str:ticket>/edit/", api_edit.RequestEdit.as_view(), name="request-edit"),
]
