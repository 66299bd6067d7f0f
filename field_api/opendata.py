"""The open-data endpoint: the city's requests as CSV or GeoJSON for anyone (gis_app.opendata says what is
published and what never is). Small exports stream at once; above `OPENDATA_INLINE_MAX_ROWS` the answer is
202 with a job URL, and the worker writes the file.

    GET /opendata/requests.{csv|geojson}?start=YYYY-MM-DD&end=YYYY-MM-DD&ward=1,2&service_code=a,b
    GET /opendata/exports/{id}/          the job: state, rows, and the download link when done
    GET /opendata/exports/{id}/file      the file
    GET /opendata/dictionary.json        every published field: its type and meaning
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from field_api.models import DataExport
from field_api.open311.keys import _throttle
from field_api.open311.render import Open311Error
from gis_app import outbox
from gis_app.opendata import DICTIONARY, FORMATS, ExportError, chunks, inline_limit, parse_export_filters, selected
from layers.http import error_body

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(message, status), status=status)


@require_GET
def requests_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    if fmt not in FORMATS:
        return _refuse(404, f"no export as .{fmt[:20]}; expected .csv or .geojson")
    try:
        _throttle(request)
        f = parse_export_filters(request.GET)
    except ExportError as exc:
        return _refuse(400, str(exc))
    except Open311Error as exc:
        refused = _refuse(exc.code, exc.description)
        if exc.retry_after is not None:
            refused["Retry-After"] = str(exc.retry_after)
        return refused
    n = selected(f).count()
    name = f"requests-{f.start}-{f.end}.{fmt}"
    if n <= inline_limit():
        stream = StreamingHttpResponse(chunks(fmt, f), content_type=CONTENT_TYPES[fmt])
        stream["Content-Disposition"] = f'attachment; filename="{name}"'
        stream["X-Row-Count"] = str(n)
        return stream
    job = DataExport.objects.create(fmt=fmt, params={**f.as_json(), "query": f.as_query()}, rows=n)
    outbox.enqueue(write_export, str(job.pk))
    body = _job_json(job)
    response = JsonResponse(body, status=202)
    response["Location"] = body["url"]
    return response


def _job_json(job: DataExport) -> dict[str, Any]:
    url = reverse("field_api:opendata-job", args=[job.pk])
    body: dict[str, Any] = {"id": str(job.pk), "url": url, "state": job.state, "rows": job.rows, "format": job.fmt,
                            "filters": job.params, "detail": job.detail}  # fmt: skip
    if job.state == DataExport.State.DONE:
        body["download"] = reverse("field_api:opendata-file", args=[job.pk])
    return body


@require_GET
def export_job(request: HttpRequest, pk: str) -> JsonResponse:
    job = DataExport.objects.filter(pk=pk).first()
    if job is None:
        return _refuse(404, f"no export {pk}")
    return JsonResponse(_job_json(job))


@require_GET
def export_file(request: HttpRequest, pk: str) -> HttpResponse | FileResponse:
    job = DataExport.objects.filter(pk=pk, state=DataExport.State.DONE).first()
    if job is None or not job.file:
        return _refuse(404, f"export {pk} is not ready (see its job URL)")
    path = Path(settings.MEDIA_ROOT) / job.file
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=CONTENT_TYPES[job.fmt])


@require_GET
def dictionary(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "fields": DICTIONARY,
            "never_published": [
                "reporter name, e-mail, phone, device and account",
                "sensitive request types",
                "e-mail addresses and phone numbers inside descriptions (masked)",
            ],
            "filters": {
                "start": "YYYY-MM-DD (default 30 days before end)",
                "end": "YYYY-MM-DD (default today)",
                "ward": "ward numbers, comma-separated",
                "service_code": "type codes, comma-separated",
            },
        }
    )


@shared_task(acks_late=True, name="opendata.write_export")
def write_export(pk: str) -> None:
    """Write the file; idempotent (a finished job is left alone; a re-delivered one rewrites the same file)."""
    job = DataExport.objects.filter(pk=pk).first()
    if job is None or job.state == DataExport.State.DONE:
        return
    DataExport.objects.filter(pk=pk).update(state=DataExport.State.RUNNING)
    relative = Path("exports") / f"{job.pk}.{job.fmt}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        f = parse_export_filters(job.params["query"])
        partial = target.with_suffix(target.suffix + ".part")
        with partial.open("w", encoding="utf-8") as out:
            for piece in chunks(job.fmt, f):
                out.write(piece)
        partial.replace(target)  # readers never see half a file
    except ExportError as exc:
        DataExport.objects.filter(pk=pk).update(state=DataExport.State.FAILED, detail=str(exc),
                                                finished_at=timezone.now())  # fmt: skip
        return
    DataExport.objects.filter(pk=pk).update(state=DataExport.State.DONE, file=str(relative),
                                            finished_at=timezone.now())  # fmt: skip
