"""Browser metrics (the beacon's Core Web Vitals) per page route, as p75 against budgets.

p75 is the web-vitals convention: a page is "good" when three visits in four are within the
budget. Budgets are settings: MONITORING_BROWSER_BUDGETS for every page and
MONITORING_BROWSER_PAGE_BUDGETS for a route's own (e.g. a heavy report page).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from apps.monitoring.models import MetricKind
from apps.monitoring.selectors.metrics import Summary, browser_pages


@dataclass(frozen=True)
class BrowserMetric:
    """One figure the beacon sends: its field, series kind, label and display scale."""

    field: str
    kind: str
    label: str
    unit: str  # "ms", or "" for layout shift
    # Stored value / scale = shown value (CLS is stored in thousandths).
    scale: float = 1.0


BROWSER_METRICS = (
    BrowserMetric("fcp", MetricKind.BROWSER_FCP, "First Contentful Paint", "ms"),
    BrowserMetric("lcp", MetricKind.BROWSER_LCP, "Largest Contentful Paint", "ms"),
    BrowserMetric("inp", MetricKind.BROWSER_INP, "Interaction to Next Paint", "ms"),
    BrowserMetric("cls", MetricKind.BROWSER_CLS, "Cumulative Layout Shift", "", scale=1000.0),
    BrowserMetric("ttfb", MetricKind.BROWSER_TTFB, "Time to first byte", "ms"),
)


@dataclass(frozen=True)
class BudgetCell:
    """One page's p75 of one metric, in the metric's own unit, and its budget."""

    metric: BrowserMetric
    p75: float | None
    count: int
    budget: float | None

    @property
    def over_budget(self) -> bool:
        return self.p75 is not None and self.budget is not None and self.p75 > self.budget


@dataclass(frozen=True)
class BrowserPage:
    route: str
    views: int
    cells: list[BudgetCell]


def browser_budget(*, route: str, field: str) -> float | None:
    """The p75 budget of ``field`` (fcp, lcp, inp, cls, ttfb) on ``route``; None: no budget."""
    own = settings.MONITORING_BROWSER_PAGE_BUDGETS.get(route, {})
    if field in own:
        return own[field]
    return settings.MONITORING_BROWSER_BUDGETS.get(field)


def _cell(metric: BrowserMetric, summary: Summary | None, route: str) -> BudgetCell:
    p75 = summary.p75 if summary is not None else None
    return BudgetCell(
        metric=metric,
        p75=None if p75 is None else p75 / metric.scale,
        count=summary.count if summary is not None else 0,
        budget=browser_budget(route=route, field=metric.field),
    )


def browser_pages_p75(*, window: timedelta) -> list[BrowserPage]:
    """Every page route with browser metrics in the window, most viewed first: per metric
    its p75 and budget. A page's views are the largest count of any of its metrics."""
    pages = []
    for route, summaries in browser_pages(window=window).items():
        cells = [_cell(metric, summaries.get(metric.kind), route) for metric in BROWSER_METRICS]
        views = max(summary.count for summary in summaries.values())
        pages.append(BrowserPage(route=route, views=views, cells=cells))
    return sorted(pages, key=lambda page: (-page.views, page.route))
