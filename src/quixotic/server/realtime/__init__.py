"""Realtime: Appwrite's WebSocket API (``/v1/realtime``) on the local server.

``channels`` and ``filters`` are pure (names and subscription queries), ``audience`` decides who may read an
event with the API's own permission rules, ``hub`` holds connections and delivers events, ``socket`` is the
endpoint and its message protocol.
"""
