"""Publishing external events, Metaflow's `ArgoEvent(name).publish(payload)`, through Airflow.

An event is an asset event on the event's asset (`x-flow-event://<name>`, declared by every flow
deployed with @trigger on it), posted through Airflow's REST API (`[flow_triggers] api_url` and its
credentials, as `airflow create` uses), so it works the same from a step, locally or on a worker,
and from any script. The command line: `python -m airflow_flow_triggers publish NAME [KEY=VALUE ...]`.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import uuid

from ..errors import CommandLineError, FlowTriggersError
from ..flows.triggers import check_event_name
from ..orchestration.assets import event_uri
from .airflow_api import AirflowAPI
from .cli import _ArgumentParser


class AirflowEvent:
    """An event that starts every flow deployed with @trigger on its name, with `payload` as its fields.

    `name` is a string or `namespaced_event_name('x')` (resolved for the running step's branch).
    """

    def __init__(self, name, payload: dict | None = None, url: str | None = None):
        if callable(name):
            name = name()
        check_event_name(name)
        self.name = name
        self._payload = dict(payload or {})
        self._url = url

    def add_to_payload(self, key: str, value) -> AirflowEvent:
        """Set one payload field (as a string, as Metaflow does); the flows' parameters read it by name."""
        self._payload[key] = str(value)
        return self

    def publish(self, payload: dict | None = None, force: bool = True, ignore_errors: bool = True) -> str | None:
        """Post the event; returns its id. With `ignore_errors` (Metaflow's default) a failure is one
        line on stderr instead of an exception. `force=False` publishes only from a step on Airflow."""
        if not force and not os.environ.get("AIRFLOW_CTX_DAG_ID"):
            return self._failed(f"Event ({self.name}) was not published: this is not a step running on Airflow; "
                                "use AirflowEvent(...).publish(...) to publish anyway.", ignore_errors)
        fields = self._fields(payload or {})
        try:
            api = AirflowAPI(self._url)
            asset_id = api.asset_id(self.name, event_uri(self.name))
            if asset_id is None:
                raise CommandLineError(f"No flow on Airflow at {api.url} is deployed with @trigger on event "
                                       f"'{self.name}' (Airflow has no asset {event_uri(self.name)}), so the event "
                                       "would start nothing: deploy the flow first, or check the event's name.")
            api.post_asset_event(asset_id, fields)
        except FlowTriggersError as error:
            return self._failed(f"Unable to publish event ({self.name}): {error}", ignore_errors)
        print(f"Event ({self.name}) published.", file=sys.stderr)
        return fields["id"]

    def safe_publish(self, payload: dict | None = None, ignore_errors: bool = True) -> str | None:
        """Publish only from a step running on Airflow; a no-op (one line on stderr) in local runs."""
        return self.publish(payload, force=False, ignore_errors=ignore_errors)

    def _fields(self, payload: dict) -> dict:
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"name": self.name, "id": str(uuid.uuid4()), "timestamp": int(now.timestamp()),
                "utc_date": now.strftime("%Y%m%d"), **self._payload, **payload}

    @staticmethod
    def _failed(message: str, ignore_errors: bool) -> None:
        if not ignore_errors:
            raise CommandLineError(message)
        print(message, file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    """`python -m airflow_flow_triggers publish NAME [KEY=VALUE ...] [--payload JSON]`."""
    parser = _ArgumentParser(prog="python -m airflow_flow_triggers",
                             description="Publish an event through Airflow: it starts every flow "
                                         "deployed with @trigger on its name.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    publish = commands.add_parser("publish", help="publish an event")
    publish.add_argument("name", help="the event's name, e.g. data_updated or mfns.project.user.alice.data_updated")
    publish.add_argument("fields", nargs="*", default=[], metavar="KEY=VALUE",
                         help="payload fields (values are strings)")
    publish.add_argument("--payload", default="{}", metavar="JSON", help="payload fields as a JSON object")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        event = AirflowEvent(args.name, _payload(args.payload, args.fields))
        print(event.publish(ignore_errors=False))
        return 0
    except FlowTriggersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _payload(text: str, fields: list[str]) -> dict:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandLineError(f"--payload is not JSON ({error.msg} at character {error.pos}): give an object, "
                               "e.g. --payload '{\"rate\": 0.7}'.") from None
    if not isinstance(payload, dict):
        raise CommandLineError("--payload must be a JSON object, e.g. --payload '{\"rate\": 0.7}'.")
    for field in fields:
        key, equals, value = field.partition("=")
        if not equals or not key:
            raise CommandLineError(f"'{field}' is not a payload field: write KEY=VALUE, e.g. rate=0.7.")
        payload[key] = value
    return payload
