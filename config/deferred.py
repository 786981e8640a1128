"""Callables named in settings whose code lives in an app.

Some settings want a callable (Silk's intercept function, whitenoise's headers hook), but
settings load before the apps: importing the app module there would import models before
Django is set up. ``deferred("apps.x.y.func")`` is a callable that imports its target on
first call.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from django.utils.module_loading import import_string


def deferred(dotted_path: str) -> Callable[..., Any]:
    target = cache(lambda: import_string(dotted_path))

    def call(*args: Any, **kwargs: Any) -> Any:
        return target()(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"deferred({dotted_path})"
    return call
