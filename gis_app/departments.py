"""Which department owns a request: the type's rule for its ward, else for its community area, else the default.

("Routing" is the crews' word in this project; this is choosing a department.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from gis_app.models import Department, DepartmentRule, ServiceType
from layers.memo import remembered


class DepartmentRules:
    """The rules of some types, read once: a bulk load asks thousands of times without a query each."""

    def __init__(self, rules: Iterable[DepartmentRule]) -> None:
        self.by_type: dict[int, list[DepartmentRule]] = defaultdict(list)
        for rule in rules:
            self.by_type[rule.service_type_id].append(rule)

    @classmethod
    def of(cls, service_types: Iterable[ServiceType] | None = None) -> DepartmentRules:
        """The rules of `service_types` (all types when None)."""
        rules = DepartmentRule.objects.select_related("department")
        if service_types is not None:
            rules = rules.filter(service_type__in=[t.pk for t in service_types])
        return cls(rules)

    @classmethod
    def in_force(cls) -> DepartmentRules:
        """Every type's rules, remembered in this process until a rule, type or department changes (layers.memo):
        intake asks on every report."""
        return remembered("gis:department-rules", lambda: cls(DepartmentRule.objects.select_related("department")))

    def choose(
        self, service_type: ServiceType, ward_number: int | None, community_area_number: int | None
    ) -> tuple[Department, str]:
        """(department, why) for a type at a place."""
        rules = self.by_type.get(service_type.pk, [])
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


def choose_department(
    service_type: ServiceType, ward_number: int | None, community_area_number: int | None
) -> tuple[Department, str]:
    """(department, why) for one request: the type's rules only."""
    return DepartmentRules.of([service_type]).choose(service_type, ward_number, community_area_number)
