"""Signed deployment records: the api-server (or a local `airflow create`) signs what it wrote after the
token check, and the cluster policy in the dag-processor accepts a production DAG only with a valid signature.

The key is `[flow_triggers] signing_key`, or else Airflow's `[core] fernet_key`, which the api-server and
the dag-processor share in every installation (they decrypt the same connections). Anyone who can read
that configuration, which includes code running in any DAG file, can sign too: see docs/deployments.md.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from ..errors import CommandLineError

SIGNATURE = "signature"
_CONTEXT = b"airflow_flow_triggers deployment record\0"


def signing_key() -> bytes | None:
    from airflow.configuration import conf

    from .. import config
    secret = config.get("signing_key") or conf.get("core", "fernet_key", fallback="")
    return hashlib.sha256(_CONTEXT + secret.encode()).digest() if secret else None


def usable_key(required: bool) -> bytes | None:
    """The key to sign with; an error when there is none and one is `required` (a production deployment)."""
    key = signing_key()
    if key is None and required:
        raise CommandLineError("Production deployments are signed, and this Airflow has no key to sign them: set "
                               "[flow_triggers] signing_key (or [core] fernet_key) to the same value on the "
                               "api-server and the dag-processor.")
    return key


def sign(record: dict, key: bytes | None) -> dict:
    """`record` with its signature by `key` (None without a key)."""
    return {**record, SIGNATURE: None if key is None else _mac(key, record)}


def is_signed(record: dict) -> bool:
    """Whether `record` carries a valid signature by this Airflow's key."""
    key, signature = signing_key(), record.get(SIGNATURE)
    return bool(key and isinstance(signature, str) and hmac.compare_digest(signature, _mac(key, record)))


def _mac(key: bytes, record: dict) -> str:
    body = {name: value for name, value in record.items() if name != SIGNATURE}
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()
