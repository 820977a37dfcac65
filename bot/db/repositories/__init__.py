"""Repository functions: keyword-only arguments and an explicit session."""
