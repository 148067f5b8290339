"""Auterity's reference Celery application.

`celery -A auterity ...` finds the application as the attribute `app`. It is made on first
access rather than at import, so that `python -m auterity.health` can report a configuration
or Vault error as one line instead of a traceback.
"""


def __getattr__(name):
    if name == "app":
        from auterity.application import app  # noqa: PLC0415 - made on first access, see above

        return app
    raise AttributeError(f"module 'auterity' has no attribute {name!r}")
