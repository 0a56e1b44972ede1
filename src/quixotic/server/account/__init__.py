"""Appwrite's ``account`` service: what a client app (no key) does for its own user.

``passwords`` hashes and verifies, ``sessions`` stores sessions and signs JWTs (``auth`` reads both to
turn a request's cookie, header or JWT into a user caller), ``cookies`` writes the ``Set-Cookie`` and
``X-Fallback-Cookies`` answers, and ``handlers`` holds the routes.
"""
