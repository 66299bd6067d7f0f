"""Roles as Django groups with permissions (created after every migrate, idempotently).

The anonymous public has no group: it reads public pages and the Open311 API only.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

ROLES: dict[str, list[str]] = {
    "intake clerk": [
        "gis_app.add_servicerequest",
        "gis_app.view_servicerequest",
        "gis_app.view_reporter_contact",
        "gis_app.view_servicetype",
    ],
    "dispatcher": [
        "gis_app.view_servicerequest",
        "gis_app.change_servicerequest",
        "gis_app.view_reporter_contact",
        "gis_app.view_servicetype",
        "routing.view_routeplan",
        "routing.change_routeplan",
        "routing.add_routeplan",
        "routing.view_crew",
        "field_api.add_devicesignin",
    ],
    "crew member": ["gis_app.view_servicerequest", "gis_app.view_servicetype"],
    "council member": ["gis_app.view_servicerequest", "gis_app.view_servicetype", "reports.view_reports"],
    "manager": ["gis_app.view_servicerequest", "gis_app.view_servicetype", "reports.view_reports"],
    "planner": [
        "gis_app.view_servicerequest",
        "gis_app.view_servicetype",
        "reports.view_reports",
        "planner.add_hotspotrun",
        "planner.view_hotspotrun",
    ],
    "administrator": ["*"],
}


def ensure_roles(**kwargs: Any) -> None:
    # Roles name permissions of apps migrated after this one (routing): make sure those exist first.
    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0, using=kwargs.get("using", "default"))

    every = Permission.objects.filter(
        content_type__app_label__in=["gis_app", "planner", "layers", "routing", "field_api", "reports"]
    )
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if perms == ["*"]:
            group.permissions.set(every)
            continue
        wanted: list[Permission] = []
        for dotted in perms:
            app, codename = dotted.split(".")
            wanted.extend(Permission.objects.filter(content_type__app_label=app, codename=codename))
        group.permissions.set(wanted)
