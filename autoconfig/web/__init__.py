"""HTTP in, HTTP out: the aiohttp application."""
