"""`current.card`: the components a step adds to its cards while it runs, by Metaflow's rules.

- `current.card.append(c)` / `extend` / `clear` / `components` / `refresh()` edit the step's *default editable*
  card: its only card; else its one card without an id; a card with customize=True wins. Where none can be told
  apart, they warn once (on stderr and in every card) and do nothing, as Metaflow's.
- `current.card['id']` is the card given that id (a card's components as a list, with `refresh()`); an id no
  card has warns and gives a detached empty list. `current.card['id'] = [...]` replaces its components.
- `current.card.get(type='blank')` lists the components of every card of that type.

A warning is also added to every card, as Metaflow's, unless METAFLOW_CARD_NO_WARNING is true.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from ..flows.card_types import editable
from ..flows.decorators import CardSpec
from .components import MetaflowCardComponent, error_log


class CardComponents:
    """One card's components, as Metaflow's ComponentStore: a list that also finds a component by its id."""

    def __init__(self, spec: CardSpec, position: int, publish: Callable[[CardComponents], None]):
        self.spec, self.position, self._publish = spec, position, publish
        self.editable = editable(spec.type)
        self._components: list = []
        self._last_refresh = float("-inf")
        self.user_data = None             # what the last refresh(data) gave, for a card type of the user's

    def append(self, component, id: str | None = None) -> None:
        if not isinstance(component, MetaflowCardComponent):      # as Metaflow's: a warning, the step goes on
            print(f"[@card WARNING] Component ({component}) is not a valid MetaflowCardComponent. It will not be "
                  "stored.", file=sys.stderr)
            return
        if id is not None:
            component.component_id = id
        self._components.append(component)

    def extend(self, components) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._components.clear()

    @property
    def components(self) -> CardComponents:
        """The card's components, by position or by id (`components['loss'].update(...)`), as Metaflow's."""
        return self

    def refresh(self, data=None, force: bool = False) -> None:
        """Render the card now and store it, so a viewer sees the step's progress while it runs; at most once per
        refresh_interval seconds (Metaflow's rate limit), unless `force`."""
        if data is not None:
            self.user_data = data
        now = time.monotonic()
        if force or now - self._last_refresh >= self.spec.refresh_interval:
            self._last_refresh = now
            self._publish(self)

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self._components[key]
        for component in self._components:
            if getattr(component, "component_id", None) == key:
                return component
        raise KeyError(f"This card has no component with id {key!r}: give it one with append(component, id={key!r}).")

    def __setitem__(self, key, component) -> None:
        for index, existing in enumerate(self._components):
            if getattr(existing, "component_id", None) == key:
                component.component_id = key
                self._components[index] = component
                return
        self.append(component, id=key)

    def __delitem__(self, key) -> None:
        self._components.remove(self[key])

    def __contains__(self, key) -> bool:
        return any(getattr(c, "component_id", None) == key for c in self._components)

    def __iter__(self):
        return iter(self._components)

    def __len__(self) -> int:
        return len(self._components)

    def __repr__(self) -> str:
        return f"<{self.spec.type} card{f' {self.spec.id!r}' if self.spec.id else ''}: {self._components!r}>"


class CardCollector:
    """What `current.card` is in a step with @card."""

    def __init__(self, specs: tuple[CardSpec, ...], publish: Callable[[CardComponents], None]):
        self.cards = [CardComponents(spec, position, publish) for position, spec in enumerate(specs)]
        self._by_id = _unique_ids(self.cards)
        self._default = _default_editable(self.cards)
        self._warned: set[str] = set()

    def __getitem__(self, key: str):
        if key in self._by_id:
            return self._by_id[key]
        self._warn(key, f"`current.card['{key}']` is not present. Please set the `id` argument in @card to "
                        f"'{key}' to access `current.card['{key}']`. `current.card['{key}']` will return an empty "
                        "`list` which is not referenced to `current.card` object.")
        return []

    def __setitem__(self, key: str, components) -> None:
        card = self._by_id.get(key)
        if card is None:
            self._warn(f"set {key}", f"`current.card['{key}']` is not present. Please set the `id` argument in "
                                     f"@card to '{key}' to access `current.card['{key}']`.")
        elif not isinstance(components, list):
            self._warn(f"set {key}", f"`current.card['{key}']` not set. `current.card['{key}']` should be a `list` "
                                     "of `MetaflowCardComponent`.")
        else:
            card.clear()
            card.extend(components)

    def append(self, component, id: str | None = None) -> None:
        if self._editable("append"):
            self._default.append(component, id=id)

    def extend(self, components) -> None:
        if self._editable("extend"):
            self._default.extend(components)

    def clear(self) -> None:
        if self._default is not None:
            self._default.clear()

    @property
    def components(self):
        return self._default if self._editable("components") else None

    def refresh(self, *args, **kwargs) -> None:
        if self._default is not None:
            self._default.refresh(*args, **kwargs)

    def get(self, type: str | None = None) -> list:
        return [card for card in self.cards if card.spec.type == type]

    def _editable(self, doing: str) -> bool:
        if self._default is not None:
            return True
        if len(self.cards) == 1:
            self._warn(doing, f"Card of type `{self.cards[0].spec.type}` is not an editable card. Components will "
                              f"not be added and `current.card.{doing}` will not work for any call during this "
                              "runtime execution. Please use an editable card.")
        else:
            self._warn(doing, f"`current.card.{doing}` cannot disambiguate between multiple @card decorators. "
                              "Components will not be added and this will not work for any call during this "
                              "runtime execution. To fix this set the `id` argument in all @card when using "
                              "multiple @card decorators over a single @step.")
        return False

    def _warn(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        print(f"[@card WARNING] {message}", file=sys.stderr)
        if os.environ.get("METAFLOW_CARD_NO_WARNING", "").lower() not in ("1", "true"):
            for card in self.cards:         # Metaflow shows the warning in the cards too, unless told not to
                card.append(_Warning(message))


class _Warning(MetaflowCardComponent):
    """Metaflow's WarningComponent: the warning as an error log in the card."""

    def __init__(self, message: str):
        self.message = message

    def render(self) -> dict:
        return error_log("@card WARNING", self.message)


def _unique_ids(cards: list[CardComponents]) -> dict[str, CardComponents]:
    ids = [card.spec.id for card in cards if card.spec.id is not None]
    duplicated = {card_id for card_id in ids if ids.count(card_id) > 1}
    if duplicated:
        print("[@card WARNING] Multiple `@card` decorator have been annotated with duplicate ids : "
              f"{', '.join(sorted(duplicated))}. `current.card['{min(duplicated)}']` will not work", file=sys.stderr)
    return {card.spec.id: card for card in cards if card.spec.id is not None and card.spec.id not in duplicated}


def _default_editable(cards: list[CardComponents]) -> CardComponents | None:
    """Metaflow's rule, among the editable cards: the only one; else the one with customize=True; else the one
    without an id."""
    cards = [card for card in cards if card.editable]
    if len(cards) == 1:
        return cards[0]
    customized = [card for card in cards if card.spec.customize]
    if len(customized) == 1:
        return customized[0]
    without_id = [card for card in cards if card.spec.id is None]
    return without_id[0] if len(without_id) == 1 else None
