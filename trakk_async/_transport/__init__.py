"""The only aiohttp client code: send a GET, return status, headers and body.

The layers above import what they need from here (never aiohttp): :class:`Transport`, and
:data:`ClientSession`, the type of a session a user lends the client.
"""

from trakk_async._transport.http import ClientSession, RawResponse, Transport

__all__ = ["ClientSession", "RawResponse", "Transport"]
