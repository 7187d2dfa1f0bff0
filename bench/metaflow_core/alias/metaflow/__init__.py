"""`metaflow` as airflow_flow_triggers offers it, for Metaflow's own test/core suite (bench/metaflow_core/run.py):
every name is the package's, nothing is added; a name the package lacks is an AttributeError, as an ImportError
in the flow that asks for it."""
import airflow_flow_triggers as _p


def __getattr__(name):
    try:
        return getattr(_p, name)
    except AttributeError:
        raise AttributeError(f"airflow_flow_triggers offers no {name!r}") from None


# Metaflow registers its test card types as plugins; here defining them registers them
from .plugins.cards.card_modules import test_cards as _test_cards  # noqa: E402,F401
