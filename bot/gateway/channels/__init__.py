"""The person-facing channels: each receives, stores, routes and delivers."""
