"""The directory: import of the UK data, location resolution and look-ups."""
