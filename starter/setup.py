"""`tiktok-publisher setup`: prepare a Temporal namespace for the engine.

Registers the search attributes of `workflows.search_attributes` (idempotent: existing ones
are left alone). Self-hosted clusters and the dev server accept this through the operator
API; on Temporal Cloud, add them to the namespace in the Cloud UI or with `tcld` instead.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes as sa


async def register_search_attributes(client: Client) -> list[str]:
    """Add the attributes the namespace lacks; return the names that were added."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in sa.ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=client.namespace)
        )
    return sorted(missing)
