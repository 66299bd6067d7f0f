from django.contrib import admin

from field_api.reports.models import CouncilSeat


@admin.register(CouncilSeat)
class CouncilSeatAdmin(admin.ModelAdmin):
    list_display = ["user", "ward_number", "since"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
