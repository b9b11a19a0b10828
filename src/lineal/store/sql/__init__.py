"""The SQL metadata store: SQLite (embedded default), PostgreSQL and MySQL/MariaDB."""

from .store import SqlMetadataStore

__all__ = ["SqlMetadataStore"]
