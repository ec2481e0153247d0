"""Write (or check) the golden fixtures of tests/test_golden.py.

    .venv/bin/python scripts/golden.py           # print which fixtures differ from the stored ones
    .venv/bin/python scripts/golden.py --write   # store the current ones (commit them with the reason)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_golden import GOLDEN, all_fingerprints  # noqa: E402


def main() -> int:
    """Compare the current fingerprints with the stored ones; store them with --write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    now = all_fingerprints()
    if args.write:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(now)} fixtures to {GOLDEN}")
        return 0
    was = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    differ = [k for k in now if was.get(k) != now[k]]
    print("\n".join(differ) or "all fixtures match")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
