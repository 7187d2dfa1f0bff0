"""Metaflow's decorators that this package does not provide. Each imports as Metaflow's does, and using it
is one error naming it and what to use instead: a flow written for Metaflow never fails with an
ImportError, and nothing it asks for is silently ignored."""
from __future__ import annotations

from ..errors import FlowDefinitionError, caller_location, located

INSTEAD = {
    "conda": "install the step's packages into the Airflow workers' environment, or run the step in a pod with "
             "@kubernetes(image=...) that has them",
    "conda_base": "install the flow's packages into the Airflow workers' environment, or use an image with them "
                  "in @kubernetes(image=...)",
    "pypi": "install the step's packages into the Airflow workers' environment, or run the step in a pod with "
            "@kubernetes(image=...) that has them",
    "pypi_base": "install the flow's packages into the Airflow workers' environment, or use an image with them "
                 "in @kubernetes(image=...)",
    "batch": "run the step in a pod of its own with @kubernetes (and @resources)",
    "parallel": "fan out with self.next(self.step, foreach='items') instead",
    "pytorch_parallel": "fan out with self.next(self.step, foreach='items') instead",
}


def unsupported(name: str):
    """A stand-in for Metaflow's @`name`: bare or called, it raises at once where it is written."""
    def decorator(*args, **kwargs):
        with located(caller_location()):
            raise FlowDefinitionError(f"@{name} is a Metaflow decorator that airflow_flow_triggers does not support: "
                                      f"{INSTEAD[name]}.")
    decorator.__name__ = decorator.__qualname__ = name
    decorator.__doc__ = f"Not supported here: {INSTEAD[name]}."
    return decorator


conda, conda_base, pypi, pypi_base, batch, parallel, pytorch_parallel = (unsupported(name) for name in INSTEAD)
