#!/usr/bin/env python3
"""Seed a running Roster with N users through concurrent SCIM POSTs (stdlib only).

Writes two wrk Lua data files for the load scenarios:
  <out>/ids.lua    ids = { "uuid", ... }          (GET /Users/{id})
  <out>/names.lua  names = { "userName", ... }    (filter=userName eq "...")

Usage: seed.py --base http://127.0.0.1:PORT --token JWT --count 10000 --out DIR
               [--threads 8] [--prefix seed] [--deadline 300]
Exits non-zero if any POST fails or the deadline (seconds) passes.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def user_body(name: str, n: int) -> bytes:
    return json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "displayName": f"Seed User {n}",
            "name": {"givenName": "Seed", "familyName": f"User{n}"},
            "emails": [{"value": name, "type": "work", "primary": True}],
            "active": True,
        }
    ).encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--prefix", default="seed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--deadline", type=float, default=300.0)
    args = ap.parse_args()

    base = urllib.parse.urlsplit(args.base)
    if base.hostname not in ("127.0.0.1", "localhost", "::1"):
        print("seed.py: refusing a non-loopback target", file=sys.stderr)
        return 2
    headers = {
        "Authorization": f"Bearer {args.token}",
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
    }
    ids = [None] * args.count
    names = [f"{args.prefix}{n:05d}@example.com" for n in range(args.count)]
    errors = []
    next_index = [0]
    lock = threading.Lock()
    started = time.monotonic()

    def worker() -> None:
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
        while True:
            with lock:
                n = next_index[0]
                next_index[0] += 1
            if n >= args.count or errors:
                break
            if time.monotonic() - started > args.deadline:
                errors.append(f"deadline of {args.deadline}s passed at user {n}")
                break
            try:
                conn.request("POST", "/scim/v2/Users", body=user_body(names[n], n), headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
                errors.append(f"user {n}: {e!r}")
                break
            if resp.status != 201:
                errors.append(f"user {n}: HTTP {resp.status} {payload[:300]!r}")
                break
            ids[n] = json.loads(payload)["id"]
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.deadline + 30)
    elapsed = time.monotonic() - started
    if errors or any(i is None for i in ids):
        print("seed.py: seeding failed: " + "; ".join(errors[:5]), file=sys.stderr)
        return 1

    def lua_list(var: str, values) -> str:
        return var + " = {\n" + "".join(f'"{v}",\n' for v in values) + "}\n"

    with open(f"{args.out}/ids.lua", "w") as f:
        f.write(lua_list("ids", ids))
    with open(f"{args.out}/names.lua", "w") as f:
        f.write(lua_list("names", names))
    print(f"seeded {args.count} users in {elapsed:.1f}s ({args.count / elapsed:.0f} users/s, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
