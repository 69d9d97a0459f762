"""providers.yaml in, a validated Config out; every finding as one Diagnostic with a stable code.

- spec.py: every key, type, limit and default of providers.yaml; the JSON Schema is made from it
- diagnostics.py: Diagnostic (errors and warnings alike), the code registry CODES, ConfigInvalid,
  and the order findings are shown in (file, then line)
- yaml_nodes.py: YAML read node by node, each error at file:line:path, with "did you mean"
- syntax.py: YAML syntax errors and bytes that are not UTF-8, at line and column, with the fix
- rules.py: what one value must look like (host names, URLs, languages...), shared with ispdb/
- domains.py: domain entries and domain-list files, redirects, one provider per domain and id
- providers.py: a provider's fields: names, servers, authentication, documentation, OAuth2...
- loader.py: the main file and its includes into a Config (load_config)
- lint.py: warnings about settings that are valid but probably not what users should get
"""

from .diagnostics import CODES, ConfigInvalid, Diagnostic, Severity
from .lint import lint
from .loader import Config, Origin, load_config, load_providers, parse_providers

__all__ = [
    "CODES",
    "Config",
    "ConfigInvalid",
    "Diagnostic",
    "Origin",
    "Severity",
    "lint",
    "load_config",
    "load_providers",
    "parse_providers",
]
