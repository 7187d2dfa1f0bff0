"""Metaflow's own test card types (metaflow/plugins/cards/card_modules/test_cards.py of the installed Metaflow), read
from Metaflow's file with their base classes pointed at airflow_flow_triggers.cards (this alias shadows `metaflow`,
so the file is found in the installed packages' folder)."""
import functools
import sysconfig
import traceback
from pathlib import Path

import airflow_flow_triggers.cards as _cards


def render_safely(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        try:
            return func(self, *args, **kwargs)
        except Exception:
            return traceback.format_exc()
    return wrapper


_source = (Path(sysconfig.get_paths()["purelib"]) / "metaflow/plugins/cards/card_modules/test_cards.py").read_text()
_source = _source.replace("from .card import MetaflowCard, MetaflowCardComponent", "")
_source = _source.replace("from .renderer_tools import render_safely", "")
MetaflowCard, MetaflowCardComponent = _cards.MetaflowCard, _cards.MetaflowCardComponent
exec(compile(_source, "metaflow/test_cards.py", "exec"), globals())


class TaskSpecCard(MetaflowCard):       # Metaflow's built-in card type for tests (basic.py): the task's pathspec
    type = "taskspec_card"

    def render(self, task):
        return str(task.pathspec)
