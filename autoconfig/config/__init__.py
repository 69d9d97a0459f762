"""providers.yaml in, a validated Config out."""
