"""Code loaded by the Rasa server process (Python 3.10): imports only rasa."""
