"""What a GraphQL document may ask for, checked before anything runs.

Each limit is a schema extension built per request from the settings (read at call time):
depth (GRAPHQL_MAX_DEPTH), tokens (GRAPHQL_MAX_TOKENS: the parser stops at the limit,
so a huge document costs no more than a small one) and aliases (GRAPHQL_MAX_ALIASES: one
field asked for many times). Lists are bounded by their ``first`` argument
(API_MAX_PAGE_SIZE) and nested lists are an order's lines and a job's attempts, both
small by nature, so depth times page size bounds what one query reads.

Introspection (``__schema``, ``__type``) is refused to non-staff unless DEBUG is on: the
schema is documented in the README, and production does not hand it out.
"""

from collections.abc import Iterator

from django.conf import settings
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

UNEXPECTED = "Unexpected error; it has been logged."


def introspection_allowed(user) -> bool:
    """Staff may always introspect (and open GraphiQL); others only while DEBUG is on."""
    return settings.DEBUG or bool(getattr(user, "is_staff", False))


class DepthLimit(QueryDepthLimiter):
    def __init__(self) -> None:
        super().__init__(max_depth=settings.GRAPHQL_MAX_DEPTH)


class TokenLimit(MaxTokensLimiter):
    def __init__(self) -> None:
        super().__init__(max_token_count=settings.GRAPHQL_MAX_TOKENS)


class AliasLimit(MaxAliasesLimiter):
    def __init__(self) -> None:
        super().__init__(max_alias_count=settings.GRAPHQL_MAX_ALIASES)


class IntrospectionForStaff(AddValidationRules):
    """Refuses ``__schema`` and ``__type`` to whom introspection_allowed() says no."""

    def __init__(self) -> None:
        super().__init__([NoSchemaIntrospectionCustomRule])

    def on_operation(self) -> Iterator[None]:
        request = self.execution_context.context.request
        if introspection_allowed(request.user):
            yield
            return
        yield from super().on_operation()


def unexpected_error(error: GraphQLError) -> bool:
    # Refusals are GraphQLErrors raised on purpose (their message is for the user); any
    # other exception is a bug whose text could show internals.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class HideUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=unexpected_error, error_message=UNEXPECTED)


SCHEMA_LIMITS = [TokenLimit, DepthLimit, AliasLimit, IntrospectionForStaff, HideUnexpectedErrors]
