"""The operator web UI and REST API (aiohttp)."""
