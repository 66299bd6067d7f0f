"""The product's URLs plus one peer for the load benchmarks: a minimal DRF create view (one small row, no
geocoding, no ward, no dedup, no audit, no outbox), served by the same gunicorn with the same settings."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import Group
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from gis_app.urls import urlpatterns as product


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "name"]


class MinimalCreate(generics.CreateAPIView):
    serializer_class = GroupSerializer
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(name=f"peer-{uuid.uuid4().hex}")


urlpatterns = [path("bench/peer/", MinimalCreate.as_view()), *product]
