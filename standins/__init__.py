"""Local HTTP stand-ins for the Microsoft cloud services Chaperone talks to.

Each is a real HTTP server on 127.0.0.1 speaking the documented wire format, run in a
thread of its own. Its own event loop means a client that blocks (botbuilder fetches its
OpenID keys with synchronous `requests`) cannot deadlock it. Used by the tests, the demo
and the benchmark; never by a production deployment.
"""
