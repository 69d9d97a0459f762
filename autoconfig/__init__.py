"""autoconfig: tells mail clients how to reach a mail provider, from one providers.yaml."""

__version__ = "0.1.0"
