"""Template helpers of the performance pages and the browser-metrics script tag."""

import json
import logging

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

from apps.monitoring import charts

register = template.Library()
logger = logging.getLogger("apps.monitoring")


@register.filter
def ms(value) -> str:
    """A duration in milliseconds, readable: 0.42 ms, 37 ms, 1.3 s."""
    if value is None or value == "":
        return "-"
    value = float(value)
    if value >= 10000:
        return f"{value / 1000:.0f} s"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2g} ms"


@register.filter
def seconds(value) -> str:
    if value is None:
        return "-"
    value = float(value)
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


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
