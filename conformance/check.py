"""Runs scim2-tester against a live SCIM server and prints one line per check plus the counts.

Usage: check.py BASE_URL TOKEN

Exit status 0 when every check passed (SUCCESS, COMPLIANT or ACCEPTABLE), 1 otherwise. A check
the tester skips fails the run unless it is listed in SKIPPED_WITH_REASON with the reason why.
"""

import sys
from collections import Counter

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}

# Check title -> why skipping it is right for Roster. Empty: no check is skipped today.
SKIPPED_WITH_REASON: dict[str, str] = {}

# Known gaps: check title -> (text the failure must contain, why it is tolerated for now). A gap is
# tolerated only while it fails for exactly that reason, so it stops being tolerated by itself.
# Empty: every check passes on both backends.
KNOWN_GAPS: dict[str, tuple[str, str]] = {}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}))
    results = check_server(client)
    counts: Counter[str] = Counter()
    failed = 0
    for result in results:
        status = result.status
        explained = status == Status.SKIPPED and result.title in SKIPPED_WITH_REASON
        gap = KNOWN_GAPS.get(result.title)
        known_gap = gap is not None and status not in PASSING and gap[0] in (result.reason or "")
        ok = status in PASSING or explained or known_gap
        failed += not ok
        counts[status.name] += 1
        resource = f"{result.resource_type} " if result.resource_type else ""
        reason = (result.reason or "").replace("\n", " ")
        if explained:
            reason = f"{reason} (skipped: {SKIPPED_WITH_REASON[result.title]})"
        if known_gap:
            reason = f"{reason} (known gap: {gap[1]})"
        print(f"{'ok  ' if ok else 'FAIL'} {status.name:<10} {resource}{result.title}: {reason}")
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    print(f"scim2-tester: {len(results)} checks: {summary}; {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
