"""Which suites' tests a benchmark runs: issue 13's goals are judged on the set it was filed on.

The issue measured "the suites" when they were test_http, test_https and test_forum_thread,
before issue 11 added the TLS-limit variants and the v1 client certificate (15 tests more)
and suites/test_faults.py (24 tests whose faults impose resets, registrations and power
cycles by design). `issue` is that set, like with like; `all` is the whole of suites/, whose
figures are printed but not judged against the issue's goals.
"""

from __future__ import annotations

ISSUE_FILES = ("suites/test_http.py", "suites/test_https.py", "suites/test_forum_thread.py")
LATER_VARIANTS = ("client-cert-v1", "ecdhe-only-server", "long-cn", "sni-required", "pkcs8-key")
LATER = f"not ({' or '.join(LATER_VARIANTS)})"
NAMES = ("issue", "all")


def pytest_args(name: str, keyword: str | None = None) -> list[str]:
    """The pytest targets (and `-k`) of set `name`, narrowed further by `keyword`."""
    if name == "all":
        return ["suites/", *(["-k", keyword] if keyword else [])]
    if name != "issue":
        raise ValueError(f"unknown test set {name!r}: one of {', '.join(NAMES)}")
    expr = f"({keyword}) and {LATER}" if keyword else LATER
    return [*ISSUE_FILES, "-k", expr]
