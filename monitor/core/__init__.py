"""Pure decisions: no I/O, no asyncio, no aiohttp, no sqlite, no prometheus_client."""
