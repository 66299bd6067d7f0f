"""A council member's seat: which ward is theirs (their page opens on it and highlights it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CouncilSeat(models.Model):
    """One council member's ward. Other wards stay visible to them: the seat only says which one is theirs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="council_seat")
    ward_number = models.PositiveIntegerField(help_text="The ward (council district) the member represents.")
    since = models.DateField(null=True, blank=True)

    class Meta:
        permissions = [("view_reports", "Can see ward maps, standard reports and weekly reviews")]

    def __str__(self) -> str:
        return f"{self.user} ({settings.CITY_DISTRICT_WORD} {self.ward_number})"
