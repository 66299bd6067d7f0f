"""The clerk's knowledge-base search and the information-call log (staff who take calls)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_app.api import CanAdd, _bad
from gis_app.knowledge.models import Article, InformationContact
from gis_app.knowledge.search import contacts_by_topic, search


class ArticleSearch(APIView):
    permission_classes = [CanAdd]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True, description="What the caller asks, as typed")],
        responses=OpenApiTypes.OBJECT,
        summary="Knowledge-base articles for a caller's question (full text, then spelling-tolerant)",
    )
    def get(self, request: Request) -> Response:
        q = str(request.query_params.get("q", ""))
        if len(q) > 200:
            return _bad("q", f"at most 200 characters; got {len(q)}")
        return Response({"articles": search(q)})


class ContactSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=300, help_text="What the caller asked.")
    article = serializers.IntegerField(
        required=False, allow_null=True, help_text="The article given; omit if none fit."
    )
    channel = serializers.CharField(required=False, max_length=20, default="phone")


class ContactLog(APIView):
    permission_classes = [CanAdd]

    @extend_schema(request=ContactSerializer, responses=OpenApiTypes.OBJECT, summary="Log an information call")
    def post(self, request: Request) -> Response:
        ser = ContactSerializer(data=request.data)
        if not ser.is_valid():
            field_name, errors = next(iter(ser.errors.items()))
            return _bad(field_name, " ".join(str(e) for e in errors))
        d = ser.validated_data
        article = None
        if d.get("article") is not None:
            article = Article.objects.filter(pk=d["article"], active=True).first()
            if article is None:
                return _bad("article", f"no active article {d['article']}; omit it when no article fit")
        contact = InformationContact.objects.create(
            question=d["question"],
            article=article,
            answered=article is not None,
            channel=d["channel"],
            by=request.user if request.user.is_authenticated else None,
        )
        return Response({"id": contact.pk, "answered": contact.answered}, status=201)

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="The last N days (default 30)")],
        responses=OpenApiTypes.OBJECT,
        summary="Information contacts by topic",
    )
    def get(self, request: Request) -> Response:
        raw = str(request.query_params.get("days", "30"))
        if not raw.isdigit() or not 1 <= int(raw) <= 3660:
            return _bad("days", f"a whole number of days from 1 to 3660; got {raw[:20]!r}")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(raw))
        return Response({"days": int(raw), "topics": contacts_by_topic(since)})
