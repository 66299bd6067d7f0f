"""Which department owns a request: the type's rule for its ward, else for its community area, else the default."""

from __future__ import annotations

from gis_app.models import Department, DepartmentRule, ServiceType


def choose_department(
    service_type: ServiceType, ward_number: int | None, community_area_number: int | None
) -> tuple[Department, str]:
    """(department, why) for a type at a place."""
    rules = list(DepartmentRule.objects.filter(service_type=service_type).select_related("department"))
    for rule in rules:
        if ward_number is not None and rule.ward_number == ward_number:
            return rule.department, f"ward {ward_number} rule for {service_type.code}"
    for rule in rules:
        if (
            community_area_number is not None
            and rule.ward_number is None
            and rule.community_area_number == community_area_number
        ):
            return rule.department, f"community area {community_area_number} rule for {service_type.code}"
    return service_type.department, f"default department of {service_type.code}"
