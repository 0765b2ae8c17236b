"""The guard as a service: FastAPI guard API, OpenAI-compatible guarding proxy, audit log, dashboard.

::

    from trainguard.guard.service import ServiceSettings, create_app, create_key, open_store

    store = open_store("audit.db")
    token, key = create_key(store, "acme")          # the token is shown once
    app = create_app(ServiceSettings(db="audit.db", upstream="http://127.0.0.1:8000/v1"))

or from the command line: ``trainguard guard keys create --tenant acme`` and
``trainguard guard serve``. See ``docs/service.md``.
"""

from trainguard.guard.service.app import create_app
from trainguard.guard.service.audit import AuditQuery, AuditRecord, AuditStore, open_store
from trainguard.guard.service.keys import ApiKey, create_key, revoke_key
from trainguard.guard.service.settings import ServiceSettings, get_settings

__all__ = [
    "ApiKey",
    "AuditQuery",
    "AuditRecord",
    "AuditStore",
    "ServiceSettings",
    "create_app",
    "create_key",
    "get_settings",
    "open_store",
    "revoke_key",
]
