"""The Temporal dev server the benchmarks run on: quiet, no UI, the engine's search
attributes registered, the pydantic data converter."""

from __future__ import annotations

import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes

BIN = Path(sys.executable).parent
"""Where the virtualenv's `temporal` (and the project's commands) are."""


async def dev_server() -> WorkflowEnvironment:
    """A quiet Temporal dev server with the engine's search attributes."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
        ui=False,
        dev_server_log_level="error",
    )
