"""Load (idempotently, by title) the city's knowledge-base articles from fixtures/<city>/knowledge.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from gis_app.knowledge.models import Article
from gis_app.models import ServiceType


class Command(BaseCommand):
    help = "Load knowledge-base articles (title, answer, keywords, service type names) from a TOML file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=None, help="default: CITY_KNOWLEDGE")

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["path"] or settings.CITY_KNOWLEDGE)
        if not path.exists() and not opts["path"]:
            # The knowledge base is optional: a city starts with none, and `make demo` goes on.
            self.stdout.write(f"no knowledge base for this city ({path}): nothing loaded")
            return
        if not path.exists():
            raise CommandError(f"{path} does not exist; set CITY_KNOWLEDGE or pass a file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        made = updated = 0
        for item in data.get("articles", []):
            article, created = Article.objects.update_or_create(
                title=item["title"],
                defaults={"answer": item["answer"].strip(), "keywords": list(item.get("keywords", []))},
            )
            types = ServiceType.objects.filter(name__in=item.get("service_types", []))
            article.service_types.set(types)
            article.departments.set({t.department for t in types})
            made, updated = made + created, updated + (not created)
        self.stdout.write(f"knowledge base: {made} articles added, {updated} updated from {path}")
