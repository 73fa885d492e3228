"""Real services as local processes (no Docker): PostgreSQL, an S3 server, the MLflow server.

Used by the test fixtures, by ``make evaluate`` (a throwaway stack) and by ``make up``.
"""
