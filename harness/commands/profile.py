"""`xbee-hil profile check FILE…`: validate profiles the way `pytest --profile` does.

Exit status: 0 every file is good, 1 a file is bad (each problem printed as
`file:line:col: key: message` on stderr), 2 usage error (argparse). `--show` prints the merged
profile (after `extends:`), secrets masked, so an inheritance chain can be checked by eye.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from harness.profiles import ProfileError, find_profile, load_profile


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="work with YAML profiles",
        description="Work with YAML profiles (NAME: ./profiles/NAME.yaml, else a shipped one).",
    )
    actions = parser.add_subparsers(dest="profile_command", required=True)
    check = actions.add_parser(
        "check",
        help="validate profiles: exit 0 good, 1 bad, 2 usage",
        description="Validate profiles with the schema pytest uses; report file:line: key.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="a profile file or name")
    check.add_argument(
        "--show", action="store_true", help="print the merged profile (secrets masked)"
    )
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    status = 0
    for ref in args.files:
        try:
            profile = load_profile(find_profile(ref))
        except ProfileError as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        chain = " <- ".join(p.name for p in profile.chain)
        print(
            f"{ref}: OK ({profile.label}: {chain}; modes {', '.join(profile.modes)}; "
            f"{len(profile.tls_variants)} TLS variants; {len(profile.targets)} targets)"
        )
        if args.show:
            print(yaml.safe_dump(profile.redacted(), sort_keys=False), end="")
    return status
