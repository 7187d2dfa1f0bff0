"""Step and flow decorators as Metaflow takes them: bare or called, @catch and @environment, and Metaflow's
decorators this package does not provide (one clear error each)."""
import pytest

from airflow_flow_triggers import FlowSpec, catch, environment, kubernetes, project, resources, retry, step, timeout
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.compute import pod_settings
from airflow_flow_triggers.flows.decorators import step_settings
from airflow_flow_triggers.flows.graph import flow_graph
from airflow_flow_triggers.flows.unsupported import INSTEAD


def a_step(*decorators):
    """A step function with `decorators` applied, the last one first (as they are written, bottom-up)."""
    def start(self):
        self.next(self.end)
    func = step(start)
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@pytest.mark.parametrize("bare, called", [
    (retry, retry()), (catch, catch()), (environment, environment()), (resources, resources()),
    (kubernetes, kubernetes()),
])
def test_a_bare_decorator_is_the_called_one_with_metaflows_defaults(bare, called):
    written_bare, written_called = a_step(bare), a_step(called)
    assert step_settings(written_bare) == step_settings(written_called)
    assert pod_settings(written_bare) == pod_settings(written_called)
    assert written_bare.step_decorators == written_called.step_decorators


def test_defaults_are_metaflows():
    settings = step_settings(a_step(retry, catch))
    assert (settings.retries, settings.retry_delay.total_seconds()) == (3, 120)
    assert (settings.catch.var, settings.catch.print_exception) == (None, True)
    assert step_settings(a_step(environment(vars={"A": 1, "B": "x"}))).environment == {"A": "1", "B": "x"}
    with pytest.raises(FlowDefinitionError, match="@timeout needs a positive duration"):
        a_step(timeout)


@pytest.mark.parametrize("name", sorted(INSTEAD))
def test_metaflows_other_decorators_are_one_clear_error(name):
    import airflow_flow_triggers
    decorator = getattr(airflow_flow_triggers, name)          # importable, as from metaflow
    for use in (lambda: decorator(a_step()), lambda: decorator(packages={"numpy": "2.0"})):
        with pytest.raises(FlowDefinitionError) as refused:
            use()
        assert str(refused.value).startswith(f"{__file__}:")
        assert f"@{name} is a Metaflow decorator that airflow_flow_triggers does not support: {INSTEAD[name]}." \
            in str(refused.value)


@pytest.mark.parametrize("decorate, message", [
    (lambda: catch(var="not a name"), "@catch(var='not a name') needs the name of an artifact"),
    (lambda: catch(print_exception="yes"), "@catch(print_exception='yes') must be True or False."),
    (lambda: environment(vars=["A=1"]), "@environment(vars=['A=1']) needs a dict of variable names to values."),
    (lambda: project(FlowSpec), "@project needs the project's name: write @project(name='...')."),
])
def test_bad_arguments_name_the_line(decorate, message):
    with pytest.raises(FlowDefinitionError) as refused:
        decorate()
    assert str(refused.value).startswith(f"{__file__}:") and message in str(refused.value)


def test_catch_is_refused_on_a_foreach_step():
    class CatchForeachFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    CatchForeachFlow.start = catch(CatchForeachFlow.start)
    with pytest.raises(FlowDefinitionError, match=r"@catch is defined for the step \*start\* but @catch is not "
                                                  r"supported in foreach split steps\."):
        flow_graph(CatchForeachFlow)


def test_name_is_the_flows_name():
    from airflow_flow_triggers import Parameter

    class NamedFlow(FlowSpec):
        label = Parameter("name", default="x")              # a parameter may be *called* name

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert NamedFlow(use_cli=False).name == "NamedFlow"
    with pytest.raises(FlowDefinitionError, match="'name' is a reserved name in flows"):
        NamedFlow(use_cli=False).name = "other"

    class ParameterAttributeFlow(NamedFlow):
        name = Parameter("who")
    from airflow_flow_triggers.flows.parameters import flow_parameters
    with pytest.raises(FlowDefinitionError, match="has a parameter as attribute 'name', a name reserved in flows"):
        flow_parameters(ParameterAttributeFlow)


def test_current_outside_a_step():
    from airflow_flow_triggers import current
    assert current.is_running_flow is False
    assert [current.retry_count, current.namespace, current.graph, current.parameter_names, current.tags] == \
        [None] * 5
