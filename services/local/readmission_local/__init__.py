"""The system on one machine, without Docker: PostgreSQL, an S3 server, the MLflow server as
local processes (the test fixtures, ``make evaluate``'s throwaway stack) and ``make up``.

Not part of the pipeline library (``readmission``): no image ships it.
"""
