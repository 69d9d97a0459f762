"""`autoconfig doctor`: prove that a domain's published settings work, as a client would see them.

The nameserver is asked first (nameserver.py), so that one that does not answer is one finding,
not a failure on every line. Then DNS (records.py), the HTTPS endpoints on the public names
(endpoints.py, answers.py) and every announced mail server (mail.py, protocols.py, rules.py) are
probed concurrently (run.py) with the resolver, trust store and timeouts of one `Options`
(context.py, resolve.py, tls.py); every network step has the timeout, and the whole run a bound
known in advance. Findings (findings.py) are reported as text or JSON with the run's duration
(report.py). `command.py` wires it into the CLI.
"""

from .context import Options
from .findings import Finding, Report, Status, Timing
from .resolve import Nameserver
from .run import Target, diagnose, parse_targets

__all__ = [
    "Finding",
    "Nameserver",
    "Options",
    "Report",
    "Status",
    "Target",
    "Timing",
    "diagnose",
    "parse_targets",
]
