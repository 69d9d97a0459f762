"""ISPDB files (Thunderbird's config-v1.1.xml database): import into providers.yaml, export back."""

from .importer import export_losses, export_providers, import_files

__all__ = ["export_losses", "export_providers", "import_files"]
