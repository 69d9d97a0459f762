"""`autoconfig doctor`: prove that a domain's published settings work, as a client would see them.

DNS (records.py), the HTTPS endpoints on the public names (endpoints.py, answers.py) and every
announced mail server (mail.py, protocols.py, rules.py) are probed concurrently (run.py) with the
resolver, trust store and timeouts of one `Options` (context.py, resolve.py, tls.py); findings
(findings.py) are reported as text or JSON (report.py). `command.py` wires it into the CLI.
"""

from .context import Options
from .findings import Finding, Report, Status
from .resolve import Nameserver
from .run import Target, diagnose, parse_targets

__all__ = [
    "Finding",
    "Nameserver",
    "Options",
    "Report",
    "Status",
    "Target",
    "diagnose",
    "parse_targets",
]
