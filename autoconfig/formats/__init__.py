"""One pure module per client format: provider (and address) in, bytes out, no I/O."""
