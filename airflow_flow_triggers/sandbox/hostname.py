"""[core] hostname_callable of the topology's Celery workers: both run on one machine, so each names
itself (TOPOLOGY_WORKER) and the task instances it runs say which worker ran them."""
import os
import socket


def worker_name() -> str:
    return os.environ.get("TOPOLOGY_WORKER") or socket.getfqdn()
