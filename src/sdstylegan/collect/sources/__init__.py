"""Sources list what to fetch; they share one interface so configs can swap them freely.

A source is any object built from a `_target_` node in `collect.sources` with a `name` and
`items(api: ApiClient) -> Iterator[CollectItem]`. Listing APIs are called through `ApiClient`
(user agent, spacing between calls, retries honouring Retry-After); downloads happen later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient, SourceError


@runtime_checkable
class Source(Protocol):
    """What `collect.sources` entries build into."""

    name: str

    def items(self, api: ApiClient) -> Iterator[CollectItem]:
        """Yield the items to fetch, in a stable order."""
        ...


__all__ = ["ApiClient", "CollectItem", "Source", "SourceError"]
