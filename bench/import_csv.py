#!/usr/bin/env python3
"""Writes a realistic CSV import file of N people in Roster's default profile (stdlib only).

Columns: First Name, Last Name, Display Name, Email, Username, Department, Job Title,
Employee ID, Groups (1-2 of the names `--groups` prints), Manager Email, Mobile, Status,
Language, Time Zone. One row in 50 is a manager (no manager of their own); every other row
names an earlier manager, so managers resolve within the file. Names carry accents and
apostrophes; emails are unique (`first.last.N@example.com`). The output is deterministic for a
given --seed.

Usage: import_csv.py --rows 100000 --out people.csv [--seed 1] [--prefix p]
       import_csv.py --groups            # prints the group names, one a line
"""

import argparse
import csv
import random
import sys
import unicodedata

FIRST = ["Ana", "José", "Zoë", "Liam", "Olivia", "Noah", "Émile", "Sofía", "Mateo", "Chloé", "Björn", "Aiko",
         "Ravi", "Fatima", "Seán", "Marta", "Lukas", "Inès", "Yusuf", "Grace"]
LAST = ["García", "O'Brien", "Müller", "Nakamura", "Smith", "Dubois", "Rossi", "Kowalski", "Nguyen", "Silva",
        "Andersson", "Haddad", "Patel", "Moreau", "Byrne", "López", "Schmidt", "Tanaka", "Novak", "Clarke"]
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Finance", "Support", "Legal", "People", "Operations"]
TITLES = ["Engineer", "Senior Engineer", "Account Executive", "Analyst", "Manager", "Designer", "Specialist"]
GROUPS = ["All Staff", "Engineering", "Sales", "Marketing", "Finance", "Support", "Legal", "People",
          "Operations", "Berlin Office", "Madrid Office", "Remote", "On Call", "Managers", "Interns", "VPN Users"]
TIMEZONES = ["Europe/Madrid", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
LANGUAGES = ["en", "es", "de", "fr", "ja"]
HEADER = ["First Name", "Last Name", "Display Name", "Email", "Username", "Department", "Job Title",
          "Employee ID", "Groups", "Manager Email", "Mobile", "Status", "Language", "Time Zone"]


def ascii_of(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain if c.isalnum()).lower()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--out", default="-")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefix", default="p", help="distinguishes the people of several files")
    parser.add_argument("--groups", action="store_true", help="print the group names and exit")
    args = parser.parse_args()
    if args.groups:
        print("\n".join(GROUPS))
        return 0
    rng = random.Random(args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    managers = []
    for n in range(1, args.rows + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{ascii_of(first)}.{ascii_of(last)}.{args.prefix}{n}"
        email = f"{local}@example.com"
        department = rng.choice(DEPARTMENTS)
        is_manager = n % 50 == 1
        groups = ["All Staff", department if department in GROUPS else "Remote"]
        if is_manager:
            groups.append("Managers")
        elif rng.random() < 0.3:
            groups.append(rng.choice(GROUPS))
        manager = "" if is_manager or not managers else rng.choice(managers[-20:])
        writer.writerow([
            first, last, f"{first} {last}", email, local, department,
            "Manager" if is_manager else rng.choice(TITLES), f"E{args.prefix}{n:07d}",
            ";".join(dict.fromkeys(groups)), manager, f"+34 6{rng.randrange(10**8):08d}",
            "Active" if rng.random() < 0.97 else "Inactive", rng.choice(LANGUAGES), rng.choice(TIMEZONES),
        ])
        if is_manager:
            managers.append(email)
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
