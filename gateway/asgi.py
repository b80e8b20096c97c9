"""The ASGI application for servers started from the command line (``uvicorn gateway.asgi:app``).

Settings come from the environment (``CARNET_*``); the database must already be migrated
(``carnet db upgrade``).
"""

from gateway.app import create_app

app = create_app()
