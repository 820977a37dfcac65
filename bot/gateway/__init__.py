"""The gateway: one ASGI app for the widget, Telegram, Rasa and the console."""
