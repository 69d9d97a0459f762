"""ISPDB files (Thunderbird's config-v1.1.xml database): import into providers.yaml, export back.

- reader.py: one ISPDB document into a draft provider, with a note for all it does not carry over
- importer.py: the drafts of many files placed together, checked by the loader, written as YAML
- export.py: providers written back as ISPDB files, and what that form cannot carry
"""

from .export import export_losses, export_providers, exportable
from .importer import import_files

__all__ = ["export_losses", "export_providers", "exportable", "import_files"]
