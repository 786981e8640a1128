"""Access decorators shared by the apps' server-rendered pages."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def login_required_htmx(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """login_required that sends an htmx poll whose session expired to the login page as a
    whole page, instead of swapping the login form into a fragment of the page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        path = request.get_full_path()
        if getattr(request, "htmx", False):
            login = redirect_to_login(request.htmx.current_url_abs_path or path)
            return HttpResponseClientRedirect(login["Location"])
        return redirect_to_login(path)

    return wrapper


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The form's ``next`` if it stays on this site, else ``fallback`` (no open redirect)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
