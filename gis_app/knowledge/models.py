"""The knowledge base a clerk answers information calls from, and the log of those calls.

Articles are searched with PostgreSQL full-text search (weighted: title, keywords, answer), falling back to
trigram similarity on titles and keywords when the words do not match (a caller's "garbige pickup").
Each information call is logged with the article given, or that none fit, so the reports can count
contacts by topic and the gaps in the knowledge base show.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.utils import timezone

from gis_app.models import Department, ServiceType


class Article(models.Model):
    title = models.CharField(max_length=200)
    answer = models.TextField(help_text="What the clerk tells the caller.")
    keywords = models.JSONField(default=list, blank=True, help_text='Words callers use, e.g. ["trash", "bins"].')
    keywords_text = models.CharField(max_length=1000, blank=True, editable=False)
    service_types = models.ManyToManyField(ServiceType, blank=True, related_name="articles")
    departments = models.ManyToManyField(Department, blank=True, related_name="articles")
    review_by = models.DateField(null=True, blank=True, help_text="When the answer must be checked again.")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["title"]
        indexes = [GinIndex(fields=["search"], name="article_search")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        self.keywords_text = " ".join(str(k) for k in self.keywords or [])[:1000]
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        Article.objects.filter(pk=self.pk).update(
            search=SearchVector("title", weight="A", config="english")
            + SearchVector("keywords_text", weight="A", config="english")
            + SearchVector("answer", weight="B", config="english")
        )


class InformationContact(models.Model):
    """One information call: what the caller asked, the article given (or none fit), who answered."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    question = models.CharField(max_length=300)
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    answered = models.BooleanField(help_text="False when no article fit.")
    channel = models.CharField(max_length=20, default="phone")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.question[:40]}"
