"""Two-factor sign-in for staff (django-otp): a password, then a code from an authenticator app.

Every person who signs in with a session is city staff (clerks, dispatchers, council, planners,
administrators): crews' tablets use device tokens and Open311 clients use API keys, neither of which passes
through here. The policy is settings.STAFF_TWO_FACTOR:

- "required" (the production profile's default): after the password, a user with no authenticator is sent to
  set one up before any staff page or API answers; everyone else is asked for a code.
- "offered" (development and the demo): anyone may set up an authenticator at /accounts/two-factor/; once
  set up, it is asked for at every sign-in (a password alone never again suffices for that account).

`TwoFactorGate` is the one place that holds a signed-in but unverified session back: pages redirect to the
code page, the staff API answers 403 in its error shape. Codes are checked device by device with
django-otp's throttling (each wrong code doubles the wait), and setting up an authenticator hands out ten
single-use recovery codes. An administrator who deletes a user's devices in the admin (django-otp's own
admin pages) lets that user set up a new one at the next sign-in.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, user_has_device, verify_token
from django_otp import login as otp_login
from django_otp.models import Device, VerifyNotAllowed
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from gis_app.middleware import refusal
from gis_app.qrcodes import qr_svg

RECOVERY_CODES = 10
AUTHENTICATOR = "authenticator"
RECOVERY = "recovery codes"
TOTP_CODE = re.compile(r"^\d{6}$")
# Paths a half-signed-in session may still reach: the code page itself, signing out, static files, and the
# parts that never use a staff session (crew tablets' token API, Open311 keys, the public pages' assets).
OPEN_PREFIXES = ("/accounts/", "/static/", "/admin/login/", "/admin/logout/", "/api/crew/", "/open311/")
API_PREFIXES = ("/api/",)


def required() -> bool:
    return getattr(settings, "STAFF_TWO_FACTOR", "offered") == "required"


def needs_code(user: Any) -> bool:
    """A signed-in user who must give a code before anything staff-only answers."""
    if not getattr(user, "is_authenticated", False) or user.is_verified():
        return False
    return required() or user_has_device(user, confirmed=True)


class TwoFactorGate:
    """After django-otp's OTPMiddleware: a session that gave a password but no code reaches nothing staff-only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(OPEN_PREFIXES) or not needs_code(request.user):
            return self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            return refusal(
                request,
                "two_factor",
                "two-factor sign-in required: enter the code from your authenticator at /accounts/two-factor/",
                status=403,
            )
        return HttpResponseRedirect(f"{reverse('two-factor')}?next={_safe_next(request, request.get_full_path())}")


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


def _pending_authenticator(user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator, made once and reused until confirmed (a reload shows the same key)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


def _check(user: AbstractBaseUser, code: str, devices: list[Device]) -> tuple[Device | None, str]:
    """(the device that took the code, else None and why): six digits are an authenticator code, else a
    recovery code. A throttled device says how long to wait instead of checking."""
    code = re.sub(r"\s+", "", code)[:32]
    wanted = TOTPDevice if TOTP_CODE.match(code) else StaticDevice
    for device in devices:
        if not isinstance(device, wanted):
            continue
        allowed, detail = device.verify_is_allowed()
        if not allowed:
            if detail and detail.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
                return None, "too many wrong codes: wait a minute, then try the newest code"
            return None, "this device cannot be used now"
        taken = verify_token(user, device.persistent_id, code)
        if taken is not None:
            return taken, ""
    if wanted is TOTPDevice:
        return None, "that code is wrong or has expired: enter the 6 digits your authenticator shows now"
    return None, "expected the 6-digit code from your authenticator, or one of your recovery codes"


def _issue_recovery_codes(user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Ask for a code, or set up an authenticator when the user has none yet (then show recovery codes once)."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    devices = list(devices_for_user(user, confirmed=True))
    if user.is_verified() and request.method == "GET" and devices:  # type: ignore[attr-defined]
        return HttpResponseRedirect(next_url)
    setting_up = not devices
    context: dict[str, Any] = {"next": next_url, "setting_up": setting_up, "required": required()}
    pending = _pending_authenticator(user) if setting_up else None
    if request.method == "POST":
        code = str(request.POST.get("code", ""))
        with transaction.atomic():
            taken, problem = _check(user, code, [pending] if pending else devices)
            if taken is not None:
                otp_login(request, taken)
                if pending is not None:
                    TOTPDevice.objects.filter(pk=pending.pk).update(confirmed=True)
                    context["recovery_codes"] = _issue_recovery_codes(user)
                    return render(request, "registration/two_factor_ready.html", context)
                return HttpResponseRedirect(next_url)
        context["error"] = problem
    if pending is not None:
        context["qr_svg"] = qr_svg(pending.config_url)
        context["secret"] = base64.b32encode(pending.bin_key).decode()
    status = 400 if "error" in context else 200
    return render(request, "registration/two_factor.html", context, status=status)
