"""The account store: connected TikTok accounts, their tokens (encrypted), API keys and
OAuth states, in one SQL database (SQLite by default, PostgreSQL with DATABASE_URL).

`AccountStore` implements `activities.tokens.TokenStore`, so the worker reads and renews
tokens here; the HTTP API and the CLI manage accounts and API keys through the same object.
"""
