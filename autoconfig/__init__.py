"""autoconfig: tells mail clients how to reach a mail provider, from one providers.yaml.

The layers, from the file to the wire:
- config/: providers.yaml (includes, domain lists) to a validated Config; lint warnings.
- model.py: the frozen Provider, Server, Domain... that everything else reads.
- address.py: addresses and domains as clients send them, IDNA, placeholders.
- catalog.py: the immutable domain index, each provider's answers pre-rendered.
- catalog_summary.py: providers in digests, for `/catalog` and `check --against`.
- answers.py: which answer an address gets (web, render and doctor share it).
- formats/: every answer a client receives, rendered by pure functions.
- web/: the aiohttp applications, one module per client family, from one route table.
- reload.py: a new catalog on SIGHUP or a changed file, the last good one kept.
- server.py: listeners, TLS, workers, signals. options.py: serve's options, declared once.
- cli.py, __main__.py, gunicorn.py: the entry points; lookup.py: `autoconfig lookup`.
- wording.py: counts in words ("1 provider") for the lines people read.
- ispdb/: Thunderbird ISPDB files in and out. doctor/: live checks of a deployment.
"""

__version__ = "0.1.0"
