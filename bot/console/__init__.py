"""The adviser console: server-rendered pages where advisers answer hand-overs."""
