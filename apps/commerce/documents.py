"""Commerce's cached documents: the JSON the API answers for a customer, an order and a
page of orders, and the cache namespace every commerce entry (the pages' tables too) is in.

They are the API's schemas filled from the selectors' reads, stored as finished JSON
bodies (with their ETag) so that a cache hit costs neither a query nor serialization.
The API serves them; the cache warmer fills them ahead of demand; selectors stay free of
the API's schemas.
"""

from apps.commerce import selectors
from apps.commerce.schemas import CustomerOut, OrderDetailOut, OrderListQuery, OrderPageOut
from apps.core.caching import JsonBody, cached_json
from apps.core.pagination import next_page_url

# Measured (README, "Caching"): an order with its lines costs ~4 ms of CPU to read and
# serialize, a customer summary ~1.4 ms of query; a cached JSON body ~0.3 ms.
DETAIL_TTL = 60
DETAIL_STALE_TTL = 600
# Bumped by every ORM write to commerce tables and after imports (apps/commerce/receivers.py).
CACHE_NAMESPACE = "commerce"


def customer_summary_key(customer_id: int) -> str:
    return f"{CACHE_NAMESPACE}:customer-summary:{customer_id}"


def customer_summary_serialize(*, customer_id: int) -> str | None:
    customer = selectors.customer_get_summary(customer_id=customer_id)
    return None if customer is None else CustomerOut.from_orm(customer).model_dump_json()


def customer_summary_json(*, customer_id: int) -> JsonBody | None:
    """The API's customer summary (JSON and ETag), cached: fresh for a minute, stale for ten more."""
    return cached_json(
        customer_summary_key(customer_id),
        lambda: customer_summary_serialize(customer_id=customer_id),
        ttl=DETAIL_TTL,
        stale_ttl=DETAIL_STALE_TTL,
    )


def order_detail_json(*, order_id: int) -> JsonBody | None:
    """The API's order with its lines (JSON and ETag) through the cache."""

    def serialize() -> str | None:
        order = selectors.order_get_with_line_items(order_id=order_id)
        return None if order is None else OrderDetailOut.from_orm(order).model_dump_json()

    return cached_json(
        f"{CACHE_NAMESPACE}:order:{order_id}", serialize, ttl=DETAIL_TTL, stale_ttl=DETAIL_STALE_TTL
    )


def orders_page_json(
    *, query: OrderListQuery, limit: int, after: selectors.OrderKey | None, base: str
) -> JsonBody:
    """A page of the API's order list through the cache: the same first pages are read again
    and again (newest first), so a page is kept as JSON, keyed by the validated query and the
    host its next_url names."""

    def serialize() -> str:
        page = selectors.orders_page(
            filters=selectors.OrderFilters(
                customer_id=query.customer,
                status=query.status,
                date_from=query.date_from,
                date_to=query.date_to,
            ),
            limit=limit,
            after=after,
        )
        next_url = next_page_url(base, query.model_dump(exclude_none=True), page.next_cursor)
        return OrderPageOut(items=page.rows, next=page.next_cursor, next_url=next_url).model_dump_json()

    key = f"{CACHE_NAMESPACE}:orders:{base}?{query.model_dump_json(exclude_none=True)}:{limit}"
    return cached_json(key, serialize, ttl=DETAIL_TTL, stale_ttl=DETAIL_STALE_TTL)
