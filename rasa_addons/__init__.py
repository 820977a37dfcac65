"""Code loaded by the Rasa server process (Python 3.10): imports only rasa."""

from rasa_addons import speedups  # noqa: F401  (patches applied on import)
