"""Versioned boundary layers.

Why versions: ward maps change (Chicago redrew its wards for 2015 and 2023) and a request keeps
the ward of the map in force the day it was filed. Every load is one recorded `LayerVersion`
(source, licence, checksum, counts, effective dates); boundaries hang off their version, and the
lookups choose the version by kind, `active` flag and effective date.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone


class LayerKind(models.TextChoices):
    WARDS = "wards", "Wards / council districts"
    COMMUNITY_AREAS = "community_areas", "Community areas / neighbourhoods"
    STREETS = "streets", "Street network"
    ADDRESSES = "addresses", "Address points"
    RANGES = "address_ranges", "Ranged street centrelines"


class LayerVersionQuerySet(models.QuerySet["LayerVersion"]):
    def of_kind(self, kind: str) -> LayerVersionQuerySet:
        return self.filter(kind=kind)

    def active(self) -> LayerVersionQuerySet:
        return self.filter(active=True)

    def in_force_on(self, day: dt.date) -> LayerVersionQuerySet:
        """Versions whose effective range [from, to) contains `day` (open ends allowed)."""
        return self.filter(
            Q(effective_from__isnull=True) | Q(effective_from__lte=day),
            Q(effective_to__isnull=True) | Q(effective_to__gt=day),
        )

    def overlapping(self, start: dt.date | None, end: dt.date | None) -> LayerVersionQuerySet:
        """Versions whose effective range overlaps [start, end)."""
        qs = self
        if end is not None:
            qs = qs.filter(Q(effective_from__isnull=True) | Q(effective_from__lt=end))
        if start is not None:
            qs = qs.filter(Q(effective_to__isnull=True) | Q(effective_to__gt=start))
        return qs


class LayerVersion(models.Model):
    """One recorded load of one layer file."""

    kind = models.CharField(max_length=32, choices=LayerKind.choices, db_index=True)
    name = models.CharField(max_length=200, help_text="Human name, e.g. 'Chicago wards 2015-2023'.")
    source = models.TextField(blank=True, help_text="Where the file came from (URL, dataset id, commit).")
    licence = models.CharField(max_length=200, blank=True)
    file_name = models.CharField(max_length=500, blank=True)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the imported file.")
    feature_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Counts by what happened on import.")
    report = models.JSONField(default=dict, blank=True, help_text="Repairs and merges done on import.")
    imported_at = models.DateTimeField(default=timezone.now)
    effective_from = models.DateField(null=True, blank=True, help_text="First day this map is in force.")
    effective_to = models.DateField(null=True, blank=True, help_text="First day it is no longer in force.")
    active = models.BooleanField(default=False, db_index=True)

    objects = LayerVersionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "effective_from", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "checksum"], name="layer_version_unique_file"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_from__isnull=True)
                | Q(effective_to__gt=models.F("effective_from")),
                name="layer_version_effective_range",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"{self.name} ({self.kind}, {self.effective_label}, {state})"

    @property
    def effective_label(self) -> str:
        start = self.effective_from.isoformat() if self.effective_from else "…"
        end = self.effective_to.isoformat() if self.effective_to else "…"
        return f"{start} to {end}"


class LayerChange(models.Model):
    """The log of activations and retirements, so each one can be rolled back."""

    class Action(models.TextChoices):
        ACTIVATE = "activate", "Activate"
        RETIRE = "retire", "Retire"
        ROLLBACK = "rollback", "Roll back"

    kind = models.CharField(max_length=32, choices=LayerKind.choices, db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="changes")
    # Ids of the versions whose `active` flag this change flipped, with the old values.
    before = models.JSONField(default=dict, help_text="{version_id: active} before the change.")
    rolled_back = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.version_id} at {self.at:%Y-%m-%d %H:%M}"


class Boundary(models.Model):
    """Shared shape of a numbered polygon belonging to one layer version."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField(
        help_text="The official number (ward 1…50, area 1…77); for identifiers that are not plain numbers, the "
        "one number each holds ('Ward 8' is 8) or its place in natural order ('District 3A' before '3B')."
    )
    code = models.CharField(
        max_length=60,
        blank=True,
        help_text="The identifier exactly as the source writes it ('09410', 'Ward 8', 'District 3B'); pages show it.",
    )
    name = models.CharField(max_length=200, blank=True)
    geom = models.MultiPolygonField(srid=4326, spatial_index=True)

    class Meta:
        abstract = True
        ordering = ["layer_version", "number"]

    @property
    def label(self) -> str:
        return self.code or str(self.number)

    def __str__(self) -> str:
        return self.name or f"{self._meta.verbose_name} {self.label}"


class Ward(Boundary):
    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="wards")

    class Meta(Boundary.Meta):
        constraints = [
            models.UniqueConstraint(fields=["layer_version", "number"], name="ward_unique_number"),
        ]


class CommunityArea(Boundary):
    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="community_areas")

    class Meta(Boundary.Meta):
        constraints = [
            models.UniqueConstraint(fields=["layer_version", "number"], name="community_area_unique_number"),
        ]


class WardPart(models.Model):
    """A ward cut by ST_Subdivide into pieces of at most a few hundred vertices.

    Why: a point-in-polygon test on a 1,300-vertex ward costs far more than on a 256-vertex piece, and
    the small pieces' bounding boxes make the GiST index far more selective (MapIt's habit). Measured
    in benchmarks/ward_lookup.py.
    """

    ward = models.ForeignKey(Ward, on_delete=models.CASCADE, related_name="parts")
    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="+")
    geom = models.PolygonField(srid=4326, spatial_index=True)


class CommunityAreaPart(models.Model):
    """Subdivided pieces of a community area (see WardPart)."""

    area = models.ForeignKey(CommunityArea, on_delete=models.CASCADE, related_name="parts")
    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="+")
    geom = models.PolygonField(srid=4326, spatial_index=True)


class AddressPoint(models.Model):
    """One addressed place of an address-point layer (OpenAddresses CSV, OSM addr:* tags)."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="address_points")
    number = models.PositiveIntegerField()
    number_text = models.CharField(max_length=20, help_text="As published (e.g. 1234A).")
    direction = models.CharField(max_length=2, blank=True)
    street = models.CharField(max_length=200, help_text="Normalised, without the direction: 'ASHLAND AVE'.")
    unit = models.CharField(max_length=40, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    geom = models.PointField(srid=4326, spatial_index=True)

    class Meta:
        indexes = [models.Index(fields=["layer_version", "street", "number"], name="address_point_lookup")]


class RangedSegment(models.Model):
    """A street centreline piece with house-number ranges on its left and right (TIGER ADDRFEAT, a city's
    centreline file): numbers are interpolated along it, on the side their parity is on."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="ranged_segments")
    direction = models.CharField(max_length=2, blank=True)
    street = models.CharField(max_length=200, help_text="Normalised, without the direction: 'ASHLAND AVE'.")
    left_from = models.PositiveIntegerField(null=True, blank=True)
    left_to = models.PositiveIntegerField(null=True, blank=True)
    right_from = models.PositiveIntegerField(null=True, blank=True)
    right_to = models.PositiveIntegerField(null=True, blank=True)
    left_postcode = models.CharField(max_length=10, blank=True)
    right_postcode = models.CharField(max_length=10, blank=True)
    geom = models.LineStringField(srid=4326, spatial_index=True, help_text="Drawn from the 'from' end.")

    class Meta:
        indexes = [models.Index(fields=["layer_version", "street"], name="ranged_segment_lookup")]


class StreetCorner(models.Model):
    """A named intersection of a derived street layer, kept whole: every corner of the source file, also those
    the routing graph leaves out (a street with one corner, a fragment cut off by a gap). Geocoding reads it."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="street_corners")
    street_1 = models.CharField(max_length=200)
    street_2 = models.CharField(max_length=200)
    zipcode = models.CharField(max_length=10, blank=True)
    geom = models.PointField(srid=4326, spatial_index=True)


class StreetNode(models.Model):
    """A node of a recorded street network (OSM node id, or a derived intersection id)."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="street_nodes")
    node_id = models.BigIntegerField()
    geom = models.PointField(srid=4326, spatial_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["layer_version", "node_id"], name="street_node_unique"),
        ]


class StreetEdge(models.Model):
    """A directed street segment with its length and travel time computed at import."""

    layer_version = models.ForeignKey(LayerVersion, on_delete=models.CASCADE, related_name="street_edges")
    u = models.BigIntegerField(help_text="node_id of the start node")
    v = models.BigIntegerField(help_text="node_id of the end node")
    metres = models.FloatField()
    seconds = models.FloatField()
    name = models.CharField(max_length=300, blank=True)
    street_class = models.CharField(max_length=100, blank=True, help_text="OSM highway=* or a derived class")
    geom = models.LineStringField(srid=4326, spatial_index=True)

    class Meta:
        indexes = [models.Index(fields=["layer_version", "u"])]
