"""The data layer: SQLAlchemy 2 models, sessions and repository functions."""
