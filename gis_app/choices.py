"""Status, channel and other fixed vocabularies of the request domain."""

from django.db import models
from django.utils.translation import gettext_lazy


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CLOSED = "closed", "Closed"
    DUPLICATE = "duplicate", "Duplicate"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (Status.RECEIVED, Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)


class Channel(models.TextChoices):
    PHONE = "phone", "Phone"
    WEB = "web", "Web"
    APP = "app", "Mobile app"
    WALK_IN = "walk_in", "Walk-in"
    EMAIL = "email", "Email"
    OPEN311 = "open311", "Open311"
    IMPORT = "import", "Imported record"


class LocatedBy(models.TextChoices):
    PIN = "pin", "Pin on a map"
    ADDRESS = "address", "Street address"
    INTERSECTION = "intersection", "Cross streets"
    FREE_TEXT = "free_text", "Free text"
    NONE = "none", "No location (information only)"


class NotifyVia(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    NONE = "none", "No updates"


class SlaKind(models.TextChoices):
    BUSINESS_HOURS = "business_hours", "Business hours"
    CALENDAR_DAYS = "calendar_days", "Calendar days"


class Datatype(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    DATETIME = "datetime", "Date and time"
    TEXT = "text", "Text"
    SINGLEVALUELIST = "singlevaluelist", "Single value list"
    MULTIVALUELIST = "multivaluelist", "Multi value list"


# What residents read for each status (translated), on the public pages and in messages.
PUBLIC_STATUS = {
    Status.RECEIVED: gettext_lazy("Received"),
    Status.OPEN: gettext_lazy("Open"),
    Status.ASSIGNED: gettext_lazy("Assigned to a crew"),
    Status.IN_PROGRESS: gettext_lazy("In progress"),
    Status.ON_HOLD: gettext_lazy("On hold"),
    Status.COMPLETED: gettext_lazy("Completed"),
    Status.CLOSED: gettext_lazy("Closed"),
    Status.DUPLICATE: gettext_lazy("Joined to another report"),
    Status.CANCELLED: gettext_lazy("Cancelled"),
}


def public_status(code: str) -> str:
    return str(PUBLIC_STATUS.get(code, code))  # type: ignore[call-overload]
