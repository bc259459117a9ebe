"""The workflow sandbox the worker (and the replay tests) run workflows in.

The SDK's sandbox re-executes a workflow's module for every run it holds in memory, so each
cached run owns a private copy of `workflows/publish_post.py` (classes, constants, retry
policies) besides its own state. Our workflow modules keep no mutable module state (no
module-level lists, dicts or sets that code changes, no `global`, no caches), so one copy
shared by all runs behaves the same: `workflows` and `activities` (the latter for the
contracts and typed activity references the workflows import) are passed through, like the
standard library already is. The sandbox itself stays on: the SDK's default restrictions
and stdlib passthrough are unchanged.

Measured (bench/README.md, `worker_memory`): a cached sleeping post costs about 130 KiB
instead of 310 KiB.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

SHARED_MODULES = ("workflows", "activities")
"""Our packages whose modules all runs share (no mutable module state: keep it so)."""


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The SDK's sandbox with our pure packages passed through; `strict`: the SDK's default
    sandbox, which re-executes them per run and so also catches a restricted call (the
    clock, random, I/O) in their own module code, not only in what they import."""
    if strict:
        return SandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*SHARED_MODULES)
    )
