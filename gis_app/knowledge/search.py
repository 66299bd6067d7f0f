"""Searching the knowledge base as the clerk types, and counting information contacts by topic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from gis_app.knowledge.models import Article, InformationContact

TRIGRAM_FLOOR = 0.2


def search(text: str, limit: int = 5) -> list[dict[str, Any]]:
    """The best articles for what the caller asked: full-text first (stemmed, ranked: "collections" finds
    "collection"), then trigram similarity on titles and keywords for words spelled wrong."""
    text = " ".join(text.split())[:200]
    if len(text) < 2:
        return []
    live = Article.objects.filter(active=True).prefetch_related("service_types")
    query = SearchQuery(text, search_type="websearch", config="english")
    found: list[Article] = list(
        live.filter(search=query).annotate(rank=SearchRank(F("search"), query)).order_by("-rank", "title")[:limit]
    )
    how = "words"
    if not found:
        how = "spelling"
        found = list(
            live.annotate(
                similarity=Greatest(TrigramWordSimilarity(text, "title"), TrigramWordSimilarity(text, "keywords_text"))
            )
            .filter(similarity__gte=TRIGRAM_FLOOR)
            .order_by("-similarity", "title")[:limit]
        )
    return [
        {
            "id": a.pk,
            "title": a.title,
            "answer": a.answer,
            "service_types": [t.code for t in a.service_types.all()],
            "matched_by": how,
            "review_due": bool(a.review_by and a.review_by <= timezone.localdate()),
        }
        for a in found
    ]


def contacts_by_topic(since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Information contacts per article (and those no article answered), most asked first."""
    rows = InformationContact.objects.all()
    if since is not None:
        rows = rows.filter(at__gte=since)
    counted = rows.values("article__title").annotate(
        contacts=Count("id"), unanswered=Count("id", filter=Q(answered=False))
    )
    return sorted(
        (
            {
                "topic": r["article__title"] or "(no article fit)",
                "contacts": r["contacts"],
                "unanswered": r["unanswered"],
            }
            for r in counted
        ),
        key=lambda r: (-r["contacts"], r["topic"]),
    )
