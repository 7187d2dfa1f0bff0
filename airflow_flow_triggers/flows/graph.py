"""Static analysis of a flow class: read each step's `self.next(...)` with `ast`, build and check the graph."""
from __future__ import annotations

import ast
import functools
import linecache
from dataclasses import dataclass, field

from ..errors import FlowDefinitionError, source_location
from .flowspec import set_graph_reader
from .graph_info import graph_info
from .parameters import flow_parameters


@dataclass
class StepNode:
    name: str
    file: str
    line: int                      # line of the `def`
    takes_inputs: bool             # def step(self, inputs)
    out_funcs: list[str]
    foreach_var: str | None
    next_line: int | None          # line of the self.next(...) call
    assigned: set[str]             # names assigned as self.<name> = ... in the step
    type: str = "linear"           # start | linear | split | foreach | switch | join | end
    condition: str | None = None   # a switch's attribute: its value picks the case
    switch_cases: dict = field(default_factory=dict)   # a switch's case value -> step
    in_funcs: list[str] = field(default_factory=list)
    split_parents: list[str] = field(default_factory=list)
    matching_join: str | None = None
    parallel_step: bool = False    # Metaflow's node attribute (a @parallel step), read by flows: never one here


class FlowGraph:
    """The checked step graph of a flow class, in the order steps are reached from `start`."""

    def __init__(self, flow_cls: type):
        self.name = flow_cls.__name__
        self._flow_cls = flow_cls
        self.nodes = _parse_steps(flow_cls)
        self._check_basic_steps()
        self._link()
        self._check_transitions_and_types()
        self.order = self._reachable_order()
        self._check_splits_and_joins()
        self._check_foreach_vars({p.attr_name for p in flow_parameters(flow_cls).values()})
        self._check_step_decorators()

    @functools.cached_property
    def _location(self) -> tuple[str, int | None]:
        return _class_location(self._flow_cls)

    @property
    def file(self) -> str:
        """The flow's source file (for error messages)."""
        return self._location[0]

    @property
    def line(self) -> int | None:
        """The first line of the flow class, its decorators included (for error messages)."""
        return self._location[1]

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __iter__(self):
        return (self.nodes[name] for name in self.order)

    def _error(self, message: str, node: StepNode | None = None, line: int | None = None):
        if node is None:
            return FlowDefinitionError(message, self.file, line or self.line)
        return FlowDefinitionError(message, node.file, line or node.line)

    def _check_basic_steps(self):
        for required in ("start", "end"):
            if required not in self.nodes:
                raise self._error(f"Flow {self.name} has no '{required}' step: every flow needs a "
                                  f"method 'def {required}(self)' decorated with @step.")
        end = self.nodes["end"]
        if end.next_line is not None:
            raise self._error("The 'end' step must not call self.next(): it is the last step of the flow.",
                              end, end.next_line)
        for node in self.nodes.values():
            if node.name != "end" and node.next_line is None:
                raise self._error(f"Step '{node.name}' must end with self.next(...) naming the step(s) "
                                  "that follow it.", node)

    def _link(self):
        for node in self.nodes.values():
            for out in node.out_funcs:
                if out not in self.nodes:
                    raise self._error(f"Step '{node.name}' goes to unknown step '{out}' in self.next(): "
                                      f"define '{out}' as a @step method or fix the name.", node,
                                      node.next_line)
                self.nodes[out].in_funcs.append(node.name)

    def _check_transitions_and_types(self):
        for node in self.nodes.values():
            if node.name == "start":
                node.type = "start"
                if node.takes_inputs:
                    raise self._error("The 'start' step cannot be a join: define it as 'def start(self)'.",
                                      node)
            elif node.name == "end":
                node.type = "end"
                if node.takes_inputs:
                    raise self._error("The 'end' step cannot be a join: define it as 'def end(self)', with a join "
                                      "step before it.", node)
            elif node.takes_inputs:
                node.type = "join"
            if node.condition is not None:
                if node.type == "join":
                    raise self._error(f"Join step '{node.name}' cannot be a switch in the same step: add a "
                                      "separate step after the join that switches.", node, node.next_line)
                node.type = "switch"
            elif node.foreach_var is not None:
                if len(node.out_funcs) != 1:
                    raise self._error(f"Step '{node.name}' uses foreach, so self.next() must name exactly "
                                      "one step to fan out to.", node, node.next_line)
                node.type = "foreach" if node.type != "join" else node.type
            elif len(node.out_funcs) > 1:
                node.type = "split" if node.type != "join" else node.type
            if node.type == "join" and (node.foreach_var or len(node.out_funcs) > 1):
                raise self._error(f"Join step '{node.name}' cannot split again in the same step: add a "
                                  "separate step after the join that splits.", node, node.next_line)

    def _reachable_order(self) -> list[str]:
        order, state = [], {}

        def visit(name: str, path: list[str]):
            if state.get(name) == "active":
                loop = " -> ".join(path[path.index(name):] + [name])
                node = self.nodes[path[-1]]
                raise self._error(f"Steps form a loop ({loop}): flows must be acyclic, so step "
                                  f"'{path[-1]}' cannot go back to '{name}'.", node, node.next_line)
            if name in state:
                return
            state[name] = "active"
            for out in reversed(self.nodes[name].out_funcs):  # so siblings list in source order
                if out != name or self.nodes[name].type != "switch":  # a recursive switch may loop on itself
                    visit(out, path + [name])
            state[name] = "done"
            order.append(name)

        visit("start", [])
        order.reverse()
        for node in self.nodes.values():
            if node.name not in state:
                raise self._error(f"Step '{node.name}' is not reachable from 'start': call "
                                  f"self.next(self.{node.name}) from an earlier step or remove it.", node)
        return order

    def _check_splits_and_joins(self):
        """Metaflow's split/join balance: each split is closed by one join taking all its paths."""
        for node in self:
            in_funcs = [p for p in node.in_funcs if p != node.name]   # a recursive switch's own loop
            incoming = [self._stack_below(self.nodes[p]) for p in in_funcs]
            if node.type == "join":
                switches = [p for p in in_funcs if self.nodes[p].type == "switch"]
                if switches:
                    raise self._error(f"Switch step '{switches[0]}' goes straight to join step '{node.name}', "
                                      "which Metaflow refuses (a join cannot tell which cases ran): add a "
                                      "step between them on that case.", node)
                node.split_parents = self._close_split(node, incoming)
            elif len(in_funcs) > 1 and self._reconverges(node, incoming):
                node.split_parents = incoming[0]
            elif len(in_funcs) > 1:
                raise self._error(f"Step '{node.name}' is reached from {_names(node.in_funcs)}, so it is a "
                                  f"join and must take inputs: 'def {node.name}(self, inputs)'.", node)
            else:
                node.split_parents = incoming[0] if incoming else []
            if node.type == "end" and node.split_parents:
                split = self.nodes[node.split_parents[-1]]
                raise self._error(f"The split at step '{split.name}' is never joined before 'end': add a "
                                  "join step 'def join(self, inputs)' that all its paths lead to.", split)

    def _reconverges(self, node: StepNode, incoming: list[list[str]]) -> bool:
        """Whether `node` is where the cases of a switch meet again (a normal step in Metaflow, no join)."""
        return all(stack == incoming[0] for stack in incoming) and \
            any(self.nodes[a].type == "switch" for a in self.ancestors(node.name))

    def _stack_below(self, node: StepNode) -> list[str]:
        """The open splits seen by the steps that follow `node`."""
        if node.type in ("split", "foreach"):
            return node.split_parents + [node.name]
        return node.split_parents

    def _close_split(self, join: StepNode, incoming: list[list[str]]) -> list[str]:
        if not any(incoming):
            raise self._error(f"Step '{join.name}' takes inputs, so it is a join, but no split comes before "
                              f"it: make it 'def {join.name}(self)' or add a split before it.", join)
        split = self.nodes[incoming[0][-1]]
        expected = 1 if split.type == "foreach" else len(split.out_funcs)
        # Each input comes down one path of the split (the cases of a switch on a path count as that path).
        roots = [{out for out in split.out_funcs if out == p or out in self.ancestors(p)} for p in join.in_funcs]
        if any(len(r) != 1 for r in roots) or set().union(*roots) != set(split.out_funcs) \
                or any(stack != incoming[0] for stack in incoming):
            raise self._error(
                f"Join step '{join.name}' is reached from {_names(join.in_funcs)}, but the split at "
                f"'{split.name}' opens {expected} path(s) ({_names(split.out_funcs)}): a join must take "
                "exactly the paths of one split.", join)
        split.matching_join = join.name
        return incoming[0][:-1]

    def _check_foreach_vars(self, parameters: set[str]):
        for node in self:
            if node.foreach_var is None:
                continue
            providers = {node.name} | self.ancestors(node.name)
            if node.foreach_var in parameters:
                continue
            if not any({node.foreach_var, "*"} & self.nodes[p].assigned for p in providers):
                raise self._error(f"Step '{node.name}' fans out over self.{node.foreach_var}, but no step "
                                  f"before it assigns self.{node.foreach_var}: assign the list to iterate "
                                  "over first.", node, node.next_line)

    def _check_step_decorators(self):
        for node in self:
            settings = getattr(getattr(self._flow_cls, node.name), "step_settings", None)
            if settings is not None and settings.catch is not None and node.type == "foreach":
                raise self._error(f"@catch is defined for the step *{node.name}* but @catch is not supported in "
                                  "foreach split steps.", node)

    def info(self) -> dict:
        """Metaflow's description of the graph (`current.graph`)."""
        return graph_info(self, self._flow_cls)

    def split_of(self, join: str) -> StepNode:
        """The split (or foreach) that join step `join` closes."""
        return next(node for node in self.nodes.values() if node.matching_join == join)

    def ancestors(self, name: str) -> set[str]:
        found, todo = set(), list(self.nodes[name].in_funcs)
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo.extend(self.nodes[current].in_funcs)
        return found


def _names(steps: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in steps)


def _class_location(flow_cls: type) -> tuple[str, int | None]:
    file, line = source_location(flow_cls)
    if file is None:  # the class's module is gone from sys.modules: name a step's file at least
        steps = [func for _, func in _step_functions(flow_cls)]
        file = steps[0].__code__.co_filename if steps else "<unknown>"
    return file, line


def _step_functions(flow_cls: type):
    seen = set()
    for klass in flow_cls.__mro__:
        for name, value in vars(klass).items():
            if name not in seen and getattr(value, "is_step", False):
                seen.add(name)
                yield name, value


def _parse_steps(flow_cls: type) -> dict[str, StepNode]:
    """Each step's node, from one parse per source file. No tree outlives the call on purpose: trees
    kept in a cache reach the oldest GC generation, and in a DagBag full of DAGs the full collections
    they bring on cost more than parsing again."""
    trees: dict[str, _SourceFunctions] = {}
    nodes = {}
    for name, func in _step_functions(flow_cls):
        file = func.__code__.co_filename
        if file not in trees:
            trees[file] = _SourceFunctions(file)
        nodes[name] = _parse_step(name, func, trees[file].starting_at(func.__code__.co_firstlineno))
    return nodes


def _parse_step(name: str, func, tree: ast.FunctionDef | None) -> StepNode:
    file, first_line = func.__code__.co_filename, func.__code__.co_firstlineno
    if tree is None:
        raise FlowDefinitionError(f"The source of step '{name}' cannot be read: flows must be defined in a "
                                  "Python file.", file, first_line)
    n_args = len(tree.args.args)
    if n_args not in (1, 2) or tree.args.vararg or tree.args.kwarg or tree.args.kwonlyargs:
        raise FlowDefinitionError(f"Step '{name}' must take 'self' (or 'self, inputs' for a join) and "
                                  "nothing else.", file, tree.lineno)
    last = _call_of(tree.body[-1])
    node = StepNode(name=name, file=file, line=tree.lineno, takes_inputs=n_args == 2, out_funcs=[],
                    foreach_var=None, next_line=None, assigned=set())
    for n in ast.walk(tree):
        if _is_self_next(n) and n is not last:
            raise FlowDefinitionError(f"Step '{name}' calls self.next() before its last statement: "
                                      "self.next(...) must be the step's last statement, called once.",
                                      file, n.lineno)
        node.assigned |= _self_targets(n)
    _read_transition(node, tree.body[-1])
    return node


class _SourceFunctions:
    """The `def`s of one source file by their first line (decorators included), from one parse."""

    def __init__(self, file: str):
        linecache.checkcache(file)
        try:
            self._tree = ast.parse("".join(linecache.getlines(file)))
        except SyntaxError:
            self._tree = None
        self._methods = None

    def starting_at(self, first_line: int) -> ast.FunctionDef | None:
        if self._tree is None:
            return None
        if self._methods is None:  # flows are top-level classes: scanning their bodies is quick
            classes = [node for node in self._tree.body if isinstance(node, ast.ClassDef)]
            self._methods = _by_first_line(node for cls in classes for node in cls.body)
        found = self._methods.get(first_line)
        return found if found is not None else _by_first_line(ast.walk(self._tree)).get(first_line)


def _by_first_line(nodes) -> dict[int, ast.FunctionDef]:
    return {min([d.lineno for d in node.decorator_list] + [node.lineno]): node for node in nodes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _call_of(stmt: ast.stmt):
    return stmt.value if isinstance(stmt, ast.Expr) else None


def _is_self_next(n: ast.AST) -> bool:
    return (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "next"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "self")


def _read_transition(node: StepNode, last: ast.stmt):
    call = _call_of(last)
    if not _is_self_next(call):
        return
    node.next_line = call.lineno
    keywords = {keyword.arg: keyword for keyword in call.keywords}
    if (call.args and isinstance(call.args[0], ast.Dict)) or "condition" in keywords:
        _read_switch(node, call, keywords)
        return
    for arg in call.args:
        if not (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "self"):
            raise FlowDefinitionError(f"Step '{node.name}' passes '{ast.unparse(arg)}' to self.next(): pass "
                                      "steps as self.<step_name>.", node.file, arg.lineno)
        node.out_funcs.append(arg.attr)
    if not node.out_funcs:
        raise FlowDefinitionError(f"Step '{node.name}' calls self.next() with no step: name the step(s) "
                                  "that follow it.", node.file, node.next_line)
    for keyword in call.keywords:
        if keyword.arg != "foreach":
            raise FlowDefinitionError(f"self.next() in step '{node.name}' takes no argument "
                                      f"'{keyword.arg}': only foreach='<attribute name>' (or condition= with "
                                      "a dict of cases) is allowed.",
                                      node.file, node.next_line)
        if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
            raise FlowDefinitionError(f"foreach= in step '{node.name}' must be the attribute's name as a "
                                      "string, e.g. foreach='items'.", node.file, node.next_line)
        node.foreach_var = keyword.value.value


def _read_switch(node: StepNode, call: ast.Call, keywords: dict) -> None:
    """A switch, as Metaflow 2.19 takes it: self.next({'key': self.step, ...}, condition='attribute')."""
    def refuse(why: str, line: int | None = None):
        raise FlowDefinitionError(f"Step '{node.name}' {why}", node.file, line or node.next_line)

    if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict) or not call.args[0].keys:
        refuse("uses condition=, so self.next() must take exactly one non-empty dict of cases, e.g. "
               "self.next({'fast': self.quick, 'slow': self.careful}, condition='route').")
    if "condition" not in keywords:
        refuse("passes a dict to self.next() without condition=: name the attribute that picks the case, "
               "e.g. condition='route'.")
    others = sorted(set(keywords) - {"condition"})
    if others:
        refuse(f"passes {others[0]}= to a switch's self.next(): a switch cannot be combined with foreach; "
               "add a separate step that fans out.")
    condition = keywords["condition"].value
    if not (isinstance(condition, ast.Constant) and isinstance(condition.value, str) and condition.value):
        refuse("passes a condition= that is not a string: name the attribute, e.g. condition='route'.")
    cases = call.args[0]
    for key, value in zip(cases.keys, cases.values, strict=True):
        line = getattr(key, "lineno", None) or node.next_line
        if key is None:
            refuse("unpacks a dict (**) into a switch's cases: write each case as 'key': self.<step>.", line)
        if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int, float))
                and not isinstance(key.value, bool)):
            refuse(f"has the switch case key {ast.unparse(key)}, which is not a literal: keys must be "
                   "string literals or numbers, as Metaflow reads them from the source.", line)
        if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self"):
            refuse(f"passes '{ast.unparse(value)}' as a switch case: pass steps as self.<step_name>.", value.lineno)
        if key.value in node.switch_cases:
            refuse(f"has the switch case key {key.value!r} twice: give each case its own key.", line)
        node.switch_cases[key.value] = value.attr
    if len(node.switch_cases) < 2:
        refuse(f"is a switch with {len(node.switch_cases)} case: a switch needs at least 2 cases "
               "(for one, call self.next(self.<step>)).")
    node.condition = condition.value
    node.out_funcs = list(dict.fromkeys(node.switch_cases.values()))


def _self_targets(n: ast.AST) -> set[str]:
    """Names assigned as self.<name> by statement `n`; '*' for self.merge_artifacts(...)."""
    if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "merge_artifacts":
        return {"*"}
    if isinstance(n, ast.Assign):
        targets = n.targets
    elif isinstance(n, (ast.AnnAssign, ast.AugAssign)):
        targets = [n.target]
    else:
        return set()
    return {t.attr for target in targets for t in ast.walk(target)
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


@functools.cache
def flow_graph(flow_cls: type) -> FlowGraph:
    """The checked graph of a flow class, built once per class."""
    return FlowGraph(flow_cls)


set_graph_reader(flow_graph)      # FlowSpec._graph and iterating a flow read it
