"""Card types: the built-in 'default' and 'blank', and a user's own, as Metaflow's custom cards.

A card type is a subclass of `MetaflowCard` with a `type` name; defining it (in the flow's file, or a module the
flow imports, before the flow) is what makes `@card(type='<name>')` find it, where Metaflow finds its custom
cards in `metaflow_extensions` packages. After the task succeeds its `render(task)` gets the finished task (the
client's Task) and returns the card's HTML.
"""
from __future__ import annotations

BUILT_IN = ("default", "blank")          # both editable: current.card.append adds to them

_defined: dict[str, type] = {}


class MetaflowCard:
    """A card type (Metaflow's API): set `type`, override `render(task) -> str`.

    ALLOW_USER_COMPONENTS: current.card.append may add components to it (given to __init__ as `components`, each
    as its render() gave it). RUNTIME_UPDATABLE: current.card.refresh(data) renders it while the step runs, with
    render_runtime(task, data); `data['user']` is what refresh() was given, and `runtime_data` the last data when
    render() makes the final card.
    """

    type: str | None = None
    ALLOW_USER_COMPONENTS = False
    RUNTIME_UPDATABLE = False
    RELOAD_POLICY_NEVER, RELOAD_POLICY_ALWAYS, RELOAD_POLICY_ONCHANGE = "never", "always", "onchange"
    RELOAD_POLICY = RELOAD_POLICY_NEVER
    scope = "task"
    runtime_data = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("type"), str) and cls.type not in BUILT_IN:
            _defined[cls.type] = cls

    def __init__(self, options=None, components=None, graph=None, flow=None):
        pass

    def render(self, task) -> str:
        raise NotImplementedError(f"{type(self).__name__} needs a render(task) method returning the card's HTML.")

    def render_runtime(self, task, data) -> str:
        raise NotImplementedError(f"{type(self).__name__} is RUNTIME_UPDATABLE but has no render_runtime(task, data).")

    def refresh(self, task, data):
        return data

    def reload_content_token(self, task, data) -> str:
        return "content-token"


def card_type(name: str) -> type | None:
    """The user's card type named `name`, None for a built-in or unknown one."""
    return _defined.get(name)


def is_card_type(name) -> bool:
    return name in BUILT_IN or name in _defined


def editable(name: str) -> bool:
    """Whether current.card.append may add to a card of this type (Metaflow's ALLOW_USER_COMPONENTS)."""
    return name in BUILT_IN or bool(getattr(_defined.get(name), "ALLOW_USER_COMPONENTS", False))


def defined_names() -> list[str]:
    return sorted(_defined)
