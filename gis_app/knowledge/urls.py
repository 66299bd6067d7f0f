from django.urls import path

from gis_app.knowledge import api

urlpatterns = [
    path("api/knowledge/", api.ArticleSearch.as_view(), name="knowledge-search"),
    path("api/knowledge/contacts/", api.ContactLog.as_view(), name="knowledge-contacts"),
]
