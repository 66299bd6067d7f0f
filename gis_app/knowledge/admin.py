from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gis_app.knowledge.models import Article, InformationContact


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "review_by", "active", "updated_at"]
    list_filter = ["active", "departments"]
    search_fields = ["title", "answer", "keywords_text"]
    filter_horizontal = ["service_types", "departments"]
    fields = ["title", "answer", "keywords", "service_types", "departments", "review_by", "active"]


@admin.register(InformationContact)
class InformationContactAdmin(admin.ModelAdmin):
    list_display = ["at", "question", "article", "answered", "channel", "by"]
    list_filter = ["answered", "article"]
    date_hierarchy = "at"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log of calls is a record, not a draft
