"""The only aiohttp client code: send a GET, return status, headers and body."""
