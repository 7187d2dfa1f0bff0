"""Throw-away Airflows on this machine, for the demo, the tests and the benchmarks (one place for all three).

    harness.py    api-server, scheduler and dag-processor on a temporary AIRFLOW_HOME (SQLite, LocalExecutor)
    topology.py   PostgreSQL, Redis, SeaweedFS (S3) and Celery workers, the topology of docker/compose.yaml
    hostname.py   the [core] hostname_callable of the topology's workers

Nothing in the package imports these: they start processes, and stop only the ones they started.
"""
