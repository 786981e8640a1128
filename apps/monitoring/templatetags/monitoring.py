"""Template helpers of the performance pages and the browser-metrics script tag."""

import json
import logging
import math

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

from apps.monitoring import charts

register = template.Library()
logger = logging.getLogger("apps.monitoring")


# (at least this much, divided by, written as): the first that the value reaches is used.
MS_UNITS = (
    (10000, 1000, "{:.0f} s"),
    (1000, 1000, "{:.1f} s"),
    (10, 1, "{:.0f} ms"),
    (-math.inf, 1, "{:.2g} ms"),
)
SECONDS_UNITS = ((3600, 3600, "{:.1f} h"), (60, 60, "{:.1f} min"), (-math.inf, 1, "{:.1f} s"))


def _readable(value, units: tuple[tuple[float, float, str], ...]) -> str:
    if value is None or value == "":
        return "-"
    value = float(value)
    # Nothing reached (NaN): the last unit, as for the smallest values.
    _, divisor, form = next((unit for unit in units if value >= unit[0]), units[-1])
    return form.format(value / divisor)


@register.filter
def ms(value) -> str:
    """A duration in milliseconds, readable: 0.42 ms, 37 ms, 1.3 s."""
    return _readable(value, MS_UNITS)


@register.filter
def seconds(value) -> str:
    """A duration in seconds, readable: 4.2 s, 1.5 min, 2.0 h."""
    return _readable(value, SECONDS_UNITS)


@register.simple_tag
def sparkline(values, color: str = charts.PALETTE[0]):
    return charts.sparkline(list(values or []), color=color)


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, default=str)


@register.simple_tag
def browser_metrics_script():
    """The beacon script tag; nothing when sampling is off or the static file is unknown
    to the manifest (a stale collectstatic must not break every page)."""
    rate = settings.MONITORING_BROWSER_SAMPLE_RATE
    if rate <= 0:
        return ""
    try:
        src = static("js/browser-metrics.js")
    except ValueError:
        logger.warning("monitoring: js/browser-metrics.js is missing from the static manifest")
        return ""
    return format_html(
        '<script src="{}" data-endpoint="{}" data-sample="{}" defer></script>',
        src,
        reverse("monitoring:beacon"),
        rate,
    )


@register.filter
def get_item(mapping, key):
    """``node|get_item:"Node Type"``: a key with spaces, which dotted lookups cannot reach."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None
