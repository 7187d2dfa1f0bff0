"""Configs (Metaflow 2.13+), custom step decorators and mutators (2.16+), and Parameter defaults that are
functions. The flows of tests/oracle/configs/, written for Metaflow, run under Metaflow 2.19 and, with their
import line changed, under this package: every step prints the same. Then what only this package says or does:
its one-sentence errors (each naming the line), and deployments carrying the configs fixed at `airflow create`
(the e2e on a real Airflow is test_airflow_configs.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import import_file, run_flow
from test_metaflow_oracle import printed

from airflow_flow_triggers import Config, ConfigValue, FlowSpec, config_expr
from airflow_flow_triggers.deployments import layout
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.configs import DeferredValue

CONFIGS = Path(__file__).resolve().parent / "oracle" / "configs"

# (flow, command line, environment): each run under Metaflow and under this package
CASES = [
    ("config_flow.py", ["run"], {"METAFLOW_FLOW_CONFIG_VALUE": '{"needed": {"x": 1}}'}),
    ("config_flow.py", ["--config-value", "needed", '{"x": 2}', "--config", "settings", "config_flow.other.json",
                        "run"], {}),
    ("config_flow.py", ["--config-value", "needed", '{"x": 3}', "--config-value", "extra", '{"note": "given"}',
                        "run", "--size", "1"], {}),
    ("config_flow.py", ["run"], {"METAFLOW_FLOW_CONFIG": '{"settings": "config_flow.other.json"}',
                                 "METAFLOW_FLOW_CONFIG_VALUE": '{"needed": {"from": "the environment"}}'}),
    # --config-value on the command line: METAFLOW_FLOW_CONFIG_VALUE is not read at all (click's rule)
    ("config_flow.py", ["--config-value", "needed", "{}", "run"],
     {"METAFLOW_FLOW_CONFIG_VALUE": '{"extra": {"note": "not read"}}'}),
    ("dynamic_parameters_flow.py", ["run"], {}),
    ("dynamic_parameters_flow.py", ["run", "--greeting", "hi", "--count", "3", "--flag", "False"], {}),
    ("custom_decorators_flow.py", ["run"], {}),
    ("custom_decorators_flow.py", ["--config-value", "settings", '{"tag": "red", "start": 1}', "run"], {}),
]


def run(tool: str, flow: str, args: list[str], env: dict, folder: Path) -> tuple[int, dict, str]:
    """`python <flow> args` under `tool` ('metaflow' or 'ours') in a fresh folder with the flow's data files;
    (exit status, what each step printed, stderr)."""
    return execute(prepared(tool, flow, folder), flow, args, env)


def prepared(tool: str, flow: str, folder: Path) -> Path:
    """A fresh folder with the flow (its import line changed for 'ours') and its data files."""
    folder = folder / tool
    folder.mkdir(parents=True)
    for path in CONFIGS.glob(f"{flow[:-3]}.*"):
        source = path.read_text()
        if tool == "ours" and path.suffix == ".py":
            source = source.replace("from metaflow import", "from airflow_flow_triggers import")
        (folder / path.name).write_text(source)
    return folder


def execute(folder: Path, flow: str, args: list[str], env: dict) -> tuple[int, dict, str]:
    base = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
            "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
            "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    result = subprocess.run([sys.executable, flow, *args], cwd=folder, env={**base, **env}, capture_output=True,
                            text=True, timeout=600)
    return result.returncode, printed(result.stdout + "\n" + result.stderr), result.stderr


@pytest.mark.parametrize("flow, args, env", CASES, ids=[f"{f[:-3]}:{' '.join(a)}:{sorted(e)}" for f, a, e in CASES])
def test_the_same_flow_prints_the_same_under_metaflow(flow, args, env, tmp_path):
    status, ours, errors = run("ours", flow, args, env, tmp_path)
    assert status == 0, errors
    assert ours and run("metaflow", flow, args, env, tmp_path)[:2] == (0, ours)


def test_a_resumed_run_keeps_the_configs_of_the_run_it_resumes(tmp_path):
    flow, results = "resumed_config_flow.py", {}
    for tool in ("metaflow", "ours"):
        folder = prepared(tool, flow, tmp_path)
        (folder / "fail").write_text("")
        failed = execute(folder, flow, ["--config-value", "config", '{"value": "given"}', "run"], {})
        resumed = execute(folder, flow, ["resume"], {})
        refused = execute(folder, flow, ["--config-value", "config", "{}", "resume"], {})
        results[tool] = (failed[0] != 0, resumed[0], resumed[1]["end"], refused[0] != 0)
    assert results["ours"] == results["metaflow"] == (True, 0, [("end given",)], True)
    assert execute(tmp_path / "ours", flow, ["--config-value", "config", "{}", "resume"], {})[2].strip() == (
        "error: --config and --config-value cannot be given to resume: a resumed run keeps the configs of the run "
        "it resumes, as in Metaflow.")


BAD_CONFIGS = [
    (["run"], {}, "Bad values passed for configuration options: missing configuration for 'needed': give each with "
                  "--config NAME FILE or --config-value NAME JSON (before the command)."),
    (["--config-value", "needed", "{oops", "run"], {},
     "Bad values passed for configuration options: configuration value for 'needed' is not valid JSON: Expecting "
     "property name enclosed in double quotes: line 1 column 2 (char 1): give each with --config NAME FILE or "
     "--config-value NAME JSON (before the command)."),
    (["--config-value", "needed", "{}", "--config", "settings", "missing.json", "run"], {},
     "Bad values passed for configuration options: configuration file 'missing.json' could not be read for "
     "'settings': give each with --config NAME FILE or --config-value NAME JSON (before the command)."),
    (["--config-value", "nope", "{}", "run"], {},
     "--config-value names the config 'nope', which the flow does not have; its configs are: extra, limits, needed, "
     "notes, raw, settings."),
    (["--config", "needed", "config_flow.other.json", "--config-value", "needed", "{}", "run"], {},
     "Config 'needed' is given both a file (--config) and a value (--config-value): give one of them."),
    (["run"], {"METAFLOW_FLOW_CONFIG_VALUE": "[1]"},
     "METAFLOW_FLOW_CONFIG_VALUE is not a JSON object of config names to values (not a JSON object): e.g. "
     "METAFLOW_FLOW_CONFIG_VALUE='{\"config\": {\"a\": 1}}'."),
    (["--config-value", "needed", "[1, 2]", "run"], {},
     "Bad values passed for configuration options: configuration value for 'needed' is a list, not a mapping (a "
     "JSON object): give each with --config NAME FILE or --config-value NAME JSON (before the command)."),
]


@pytest.mark.parametrize("args, env, message", BAD_CONFIGS)
def test_a_bad_config_is_one_sentence_where_metaflow_fails_too(args, env, message, tmp_path):
    status, _, errors = run("ours", "config_flow.py", args, env, tmp_path)
    assert (status, errors.strip()) == (1, f"error: {message}")
    assert run("metaflow", "config_flow.py", args, env, tmp_path)[0] != 0


# -- errors at the line they are about ---------------------------------------------------------------------

BAD_FLOW = '''
from airflow_flow_triggers import FlowSpec, Config, Parameter, config_expr, retry, step, project

@project(name=config_expr('settings').project)
class BadFlow(FlowSpec):
    settings = Config('settings', default_value={{'project': 'ok', 'times': 1, 'who': 'x'}})
    who = Parameter('who', default=config_expr('settings').who, type=int)

    {decorator}
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    BadFlow()
'''


@pytest.mark.parametrize("decorator, values, message", [
    ("@retry(times=settings.times)", '{"project": "Not Valid!", "times": 1}',
     "4: The project name must only contain lowercase alphanumeric characters and underscores ('Not Valid!' does "
     "not)."),
    ("@retry(times=settings.times)", '{"project": "ok", "times": "twice"}',
     "9: @retry(times='twice') needs a whole number of retries, 0 or more."),
    ("@retry(times=settings.tries)", '{"project": "ok", "times": 1}',
     "9: Config expression 'settings.tries' could not be evaluated: the config has no key 'tries' (its configs: "
     "settings=set)."),
    ("@retry(times=config_expr('settings.times + nothing'))", '{"project": "ok", "times": 1}',
     "9: Config expression 'settings.times + nothing' could not be evaluated: NameError: name 'nothing' is not "
     "defined (its configs: settings=set)."),
    ("@retry(times=1)", '{"project": "ok", "times": 1, "who": "x"}',
     "7: Parameter 'who' expects a integer value, got 'x'."),
])
def test_a_bad_config_value_names_the_line_of_the_decorator_or_parameter(decorator, values, message, write_flow,
                                                                        tmp_path):
    path = write_flow(BAD_FLOW.format(decorator=decorator), "bad_flow.py")
    result = run_flow(path, "--config-value", "settings", values, "run", airflow_home=tmp_path / "home")
    assert (result.returncode, result.stderr.strip()) == (1, f"error: {path}:{message}")


def test_configs_are_read_only_artifacts_of_every_step(write_flow, tmp_path):
    path = write_flow('''
from airflow_flow_triggers import FlowSpec, Config, step

class ReadOnlyFlow(FlowSpec):
    cfg = Config('cfg', default_value={'a': {'b': [1, 2]}})

    @step
    def start(self):
        try:
            self.cfg = {'a': 2}
        except AttributeError as error:
            print('assign:', error)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.cfg.a.b)

if __name__ == '__main__':
    ReadOnlyFlow()
''', "read_only_flow.py")
    result = run_flow(path, "run", airflow_home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "end [1, 2]" in result.stdout and "assign:" in result.stdout
    from airflow_flow_triggers import Run
    from airflow_flow_triggers.runtime.store import ArtifactStore
    run_id = result.stdout.split("run-id ")[1].split(")")[0]
    run = Run(f"ReadOnlyFlow/{run_id}", store=ArtifactStore(f"file://{tmp_path}/home/flow_triggers/artifacts"))
    for step_name in ("start", "end"):
        value = run[step_name].task.data.cfg       # stored as plain dicts, as Metaflow stores configs
        assert value == {"a": {"b": [1, 2]}} and type(value) is dict


def test_config_value_is_an_immutable_mapping_that_pickles():
    import pickle
    value = ConfigValue({"a": {"b": 1}, "c": [{"d": 2}]})
    assert value.a.b == value["a"]["b"] == 1 and value.c[0].d == 2 and isinstance(value, dict)
    for change in (lambda: value.__setitem__("a", 1), lambda: setattr(value.a, "b", 2), value.clear,
                   lambda: value.a.update(b=3), lambda: delattr(value, "a")):
        with pytest.raises(TypeError, match="ConfigValue is immutable"):
            change()
    again = pickle.loads(pickle.dumps(value))
    assert type(again) is ConfigValue and again == {"a": {"b": 1}, "c": [{"d": 2}]} and again.to_dict() == again
    assert json.loads(json.dumps(value)) == value


def test_a_config_in_a_class_body_is_a_deferred_value():
    config = Config("config")
    assert isinstance(config.a.b, DeferredValue) and config.a.b.text == "config.a.b"
    assert config["a"].text == "config.a" and isinstance(config_expr("str(config.a)"), DeferredValue)
    assert config_expr("config").a.resolve({"config": ConfigValue({"a": 5})}) == 5
    unpacked = dict(**config)
    assert list(unpacked.values())[0].text == "config"


def test_a_config_has_no_value_until_the_flow_is_configured():
    class Unconfigured(FlowSpec):
        cfg = Config("cfg", default_value={"a": 1})

    assert isinstance(Unconfigured.cfg, Config)
    with pytest.raises(FlowDefinitionError, match="Config 'cfg' has no value yet"):
        _ = Unconfigured(use_cli=False).cfg


def test_every_name_a_generated_core_test_flow_imports_is_there():
    """Metaflow's test/core writes this import line at the top of every flow it generates."""
    import airflow_flow_triggers
    names = ("Config, config_expr, FlowSpec, step, Parameter, project, IncludeFile, JSONType, current, parallel, "
             "FlowMutator, StepMutator, UserStepDecorator, user_step_decorator")
    namespace = {}
    exec(f"from airflow_flow_triggers import {names}", namespace)
    assert all(namespace[name] is getattr(airflow_flow_triggers, name) for name in names.split(", "))


# -- default functions ----------------------------------------------------------------------------------------

DEFAULTS_FLOW = '''
from airflow_flow_triggers import FlowSpec, JSONType, Parameter, step

def {name}(ctx):
    return {value}

class DefaultsFlow(FlowSpec):
    value = Parameter('value', default={name}, type={kind})

    @step
    def start(self):
        print('value', repr(self.value))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    DefaultsFlow()
'''


@pytest.mark.parametrize("value, kind, message", [
    ('"5"', "int", "The default function of parameter 'value' returned '5', a str; it must return an int, the "
                   "parameter's type (as in Metaflow)."),
    ("{'a': 1}", "JSONType", "The default function of parameter 'value' returned {'a': 1}, a dict; it must return "
                             "JSON text (a str), the parameter's type (as in Metaflow)."),
    ("1 / 0", "int", "The default function of parameter 'value' raised ZeroDivisionError: division by zero: fix it, "
                     "or give --value a value."),
])
def test_a_bad_default_function_is_one_sentence_naming_the_parameter(value, kind, message, write_flow, tmp_path):
    path = write_flow(DEFAULTS_FLOW.format(name="compute", value=value, kind=kind), "defaults_flow.py")
    result = run_flow(path, "run", airflow_home=tmp_path / "home")
    assert (result.returncode, result.stderr.strip()) == (1, f"error: {path}:8: {message}")
    assert run_flow(path, "run", "--value", "7" if kind == "int" else "[7]",
                    airflow_home=tmp_path / "home").returncode == 0


def test_the_help_names_the_default_function(write_flow, tmp_path):
    path = write_flow(DEFAULTS_FLOW.format(name="compute", value="5", kind="int"), "defaults_flow.py")
    result = run_flow(path, "run", "--help", airflow_home=tmp_path / "home")
    assert "(default: what compute() returns when the run starts)" in " ".join(result.stdout.split())


# -- custom decorators: what is left out says so ------------------------------------------------------------

MUTATED_FLOW = '''
from airflow_flow_triggers import FlowSpec, FlowMutator, StepMutator, Parameter, step

class Mutator(FlowMutator):
    def {method}(self, mutable_flow):
        {body}

@Mutator
class MutatedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    MutatedFlow()
'''


@pytest.mark.parametrize("method, body, message", [
    ("mutate", "mutable_flow.add_parameter('x', Parameter('x', default=1))",
     "Adding parameter 'x' from FlowMutator(__main__.Mutator) is only allowed in its pre_mutate() method, not in "
     "mutate() (as in Metaflow)."),
    ("mutate", "mutable_flow.start.add_decorator('conda')",
     "@conda is a Metaflow decorator that airflow_flow_triggers does not support: install the step's packages into "
     "the Airflow workers' environment, or run the step in a pod with @kubernetes(image=...) that has them."),
    ("mutate", "mutable_flow.start.add_decorator('nothing')",
     "add_decorator takes a step decorator of the package (card, catch, environment, kubernetes, resources, retry, "
     "secrets, timeout), its name, or a user decorator class; not 'nothing'."),
    ("add_to_package", "return []",
     "FlowMutator(__main__.Mutator) defines add_to_package(), which airflow_flow_triggers does not call: put the "
     "files it adds in the flow file's folder (the code package holds its *.py files) and drop the method."),
    ("pre_mutate", "mutable_flow.start.add_decorator('retry'); mutable_flow.start.add_decorator('retry', duplicates=5)",
     "add_decorator(duplicates=5) takes IGNORE, ERROR or OVERRIDE."),
])
def test_what_the_mutators_cannot_do_is_one_sentence(method, body, message, write_flow, tmp_path):
    path = write_flow(MUTATED_FLOW.format(method=method, body=body), "bad_mutators.py")
    result = run_flow(path, "run", airflow_home=tmp_path / "home")
    assert (result.returncode, result.stderr.strip()) == (1, f"error: {path}:8: {message}")


def test_mutators_change_what_the_dag_factory_builds(tmp_path, monkeypatch):
    """A FlowMutator adds @retry to every step, a StepMutator takes @timeout away and adds @environment: Airflow's
    tasks get the retries, and no execution timeout."""
    (tmp_path / "mutated_dag_flow.py").write_text('''
from airflow_flow_triggers import FlowSpec, FlowMutator, StepMutator, Config, step, timeout

class Retries(FlowMutator):
    def mutate(self, mutable_flow):
        times = dict(mutable_flow.configs)['cfg'].retries
        for name, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator('retry', deco_kwargs={'times': times, 'minutes_between_retries': 0})

class NoTimeout(StepMutator):
    def mutate(self, mutable_step):
        assert mutable_step.remove_decorator('timeout')
        mutable_step.add_decorator('environment:vars={"A": "1"}')

@Retries
class MutatedDagFlow(FlowSpec):
    cfg = Config('cfg', default_value={'retries': 3})

    @NoTimeout
    @timeout(seconds=5)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    flow_cls = import_file(tmp_path / "mutated_dag_flow.py", "mutated_dag_flow").MutatedDagFlow
    from airflow_flow_triggers import build_dag
    dag = build_dag(flow_cls)
    assert {t.task_id: (t.retries, t.execution_timeout) for t in dag.tasks if not t.is_teardown} == \
        {"start": (3, None), "end": (3, None)}
    assert [d["name"] for d in flow_cls.start.step_decorators] == ["retry", "environment"]
    assert flow_cls.start.step_settings.environment == {"A": "1"}


def test_config_values_reach_every_decorator_the_dag_factory_reads(tmp_path):
    """@schedule, @timeout, @resources, @catch and IncludeFile take config values too; a FlowMutator's pre_mutate
    may add a flow decorator (here @project, by its text) from a config."""
    (tmp_path / "table.csv").write_text("a,b\n")
    (tmp_path / "every_decorator_flow.py").write_text('''
from airflow_flow_triggers import (Config, FlowMutator, FlowSpec, IncludeFile, catch, config_expr, resources, schedule,
                                   step, timeout)

class Named(FlowMutator):
    def pre_mutate(self, mutable_flow):
        mutable_flow.add_decorator(f"project:name={dict(mutable_flow.configs)['cfg'].project}")

@Named
@schedule(cron=config_expr('cfg').cron)
class EveryDecoratorFlow(FlowSpec):
    cfg = Config('cfg', default_value={'cron': '5 4 * * *', 'seconds': 30, 'memory': 8192, 'var': 'oops',
                                       'project': 'mutated', 'table': 'table.csv'}, parser='json.loads')
    table = IncludeFile('table', default=config_expr('cfg.table'), help=config_expr('cfg.project'))

    @catch(var=config_expr('cfg').var)
    @resources(memory=cfg.memory)
    @timeout(seconds=cfg.seconds)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    flow_cls = import_file(tmp_path / "every_decorator_flow.py", "every_decorator_flow").EveryDecoratorFlow
    from airflow_flow_triggers import build_dag
    dag = build_dag(flow_cls, user="alice")
    assert dag.dag_id == "mutated.user.alice.EveryDecoratorFlow" and dag.schedule == "5 4 * * *"
    start = dag.get_task("start")
    assert start.execution_timeout.total_seconds() == 30
    assert flow_cls.start.resources.memory == 8192 and flow_cls.start.step_settings.catch.var == "oops"
    table = flow_cls.table
    assert (table.file_default, table.help) == ("table.csv", "mutated")


# -- deployments carry the configs fixed at airflow create ---------------------------------------------------

DEPLOYED = '''
import os
from airflow_flow_triggers import FlowSpec, Config, Parameter, config_expr, current, environment, project, retry, step

def double(ctx):
    with open(os.path.join(os.path.dirname(__file__), 'calls.txt'), 'a') as calls:
        calls.write(f"{ctx.parameter_name} {current.project_name}\\n")
    return ctx.configs.cfg.n * 2

@project(name=config_expr('cfg').project)
class DeployedFlow(FlowSpec):
    cfg = Config('cfg', default_value={'project': 'from_default', 'n': 1})
    doubled = Parameter('doubled', default=double, type=int)

    @retry(times=config_expr('cfg').n)
    @environment(vars={'N': config_expr('str(cfg.n)')})
    @step
    def start(self):
        self.seen = (self.cfg.to_dict(), os.environ['N'], self.doubled)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    DeployedFlow()
'''


def test_airflow_create_fixes_the_configs_and_computed_defaults_in_the_code_package(tmp_path):
    flow_file = tmp_path / "flow" / "deployed_flow.py"
    flow_file.parent.mkdir()
    flow_file.write_text(DEPLOYED)
    dags = tmp_path / "dags"
    result = run_flow(flow_file, "--config-value", "cfg", '{"project": "configured", "n": 3}', "airflow", "create",
                      "--dags-folder", str(dags), airflow_home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "Deployed configured.user.alice.DeployedFlow" in result.stdout
    assert (flow_file.parent / "calls.txt").read_text() == "doubled configured\n"     # once, at create
    record = json.loads((dags / "configured" / "user.alice" / "DeployedFlow.deploy.json").read_text())
    package = layout.package_folder(dags, record["package"]["sha256"])
    assert json.loads((package / "deployed_flow.deploy-time.json").read_text()) == {
        "configs": {"cfg": {"project": "configured", "n": 3}}, "parameter_defaults": {"doubled": 6}}

    # The DAG file, parsed elsewhere (no --config-value, another user), builds what was deployed, calling nothing.
    script = (f"from airflow_flow_triggers.orchestration.deployed import deployed_dag\n"
              f"dag = deployed_dag({str(dags / 'configured' / 'user.alice' / 'DeployedFlow.py')!r})\n"
              "print(dag.dag_id, dag.params['doubled'], [(t.task_id, t.retries) for t in dag.tasks "
              "if not t.is_teardown])\n")
    parsed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "USER": "bob", "AIRFLOW_HOME": str(tmp_path / "h"),
                                 "METAFLOW_FLOW_CONFIG_VALUE": '{"cfg": {"project": "wrong", "n": 0}}'})
    assert parsed.stdout.strip().splitlines()[-1] == \
        "configured.user.alice.DeployedFlow 6 [('start', 3), ('end', 0)]", parsed.stderr
    assert (flow_file.parent / "calls.txt").read_text() == "doubled configured\n"
    assert not (package / "calls.txt").exists()     # the package's copy of the function never ran either


def test_a_flow_without_configs_deploys_its_package_unchanged(tmp_path):
    flow_file = tmp_path / "flow" / "plain_flow.py"
    flow_file.parent.mkdir()
    flow_file.write_text(DEPLOYED.replace("double, type=int", "3").replace(
        "@project(name=config_expr('cfg').project)", "@project(name='plain')").replace(
        "    cfg = Config('cfg', default_value={'project': 'from_default', 'n': 1})\n", "").replace(
        "config_expr('cfg').n", "1").replace("config_expr('str(cfg.n)')", "'1'"))
    result = run_flow(flow_file, "airflow", "create", "--dags-folder", str(tmp_path / "dags"),
                      airflow_home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert not list((tmp_path / "dags").rglob("*.deploy-time.json"))


ARGUMENTS_WITHOUT_INIT = '''
from airflow_flow_triggers import FlowSpec, step, FlowMutator, UserStepDecorator

class Mutator(FlowMutator):
    pass

class Decorator(UserStepDecorator):
    pass

{flow_decorator}
class NoInitFlow(FlowSpec):
    {step_decorator}
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    NoInitFlow()
'''


@pytest.mark.parametrize("flow_decorator, step_decorator, message", [
    ("@Mutator(a=1)", "", "10: FlowMutator(__main__.Mutator) is used with arguments but does not implement init(): "
                          "define init(self, *args, **kwargs) to take them."),
    ("", "@Decorator(b=2)", "12: Decorator(__main__.Decorator) is used with arguments but does not implement "
                            "init(): define init(self, **kwargs) to take them."),
])
def test_arguments_to_a_class_without_init_are_one_sentence(flow_decorator, step_decorator, message, tmp_path):
    path = tmp_path / "flow.py"
    path.write_text(ARGUMENTS_WITHOUT_INIT.format(flow_decorator=flow_decorator, step_decorator=step_decorator))
    result = run_flow(path, "run", airflow_home=tmp_path / "home")
    assert result.returncode == 1 and result.stderr == f"error: {path}:{message}\n", result.stderr
