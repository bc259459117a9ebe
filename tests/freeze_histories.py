"""`make freeze-histories`: keep this version's saved histories for good.

`make histories` re-records tests/histories/*.json whenever a path changes on purpose, so the
old recording is gone. A release's recordings are what its running posts look like, and
every later version must still replay them: this copies them into
tests/histories/released/<package version>/, which tests/test_replay.py replays and nothing
re-records. A folder can be deleted once no post of that version runs anywhere.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import version

from tests.workflow_support import HISTORY_DIR

RELEASED_DIR = HISTORY_DIR / "released"


def main() -> int:
    release = version("tiktok-publisher")
    target = RELEASED_DIR / release
    if target.exists():
        print(f"{target} exists: a release's histories are frozen once.", file=sys.stderr)
        return 1
    target.mkdir(parents=True)
    sources = sorted(HISTORY_DIR.glob("*.json"))
    for source in sources:
        shutil.copyfile(source, target / source.name)
    print(f"froze {len(sources)} histories as {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
