"""@secrets: Metaflow's decorator, its sources inline (as Metaflow's own test suite writes them) or Airflow's
connections and variables, read through Airflow's API. The values are in the step's environment while it runs,
never after it, never in its artifacts, its stored logs or the run's output; a source that cannot be read is one
sentence naming it. Compared with Metaflow 2.19 where a flow runs under both."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import import_file, run_flow
from test_metaflow_oracle import printed

from airflow_flow_triggers.errors import FlowDefinitionError

PASSWORD = "s3cr3t-pw-71"
TOKEN = "tok-93-only-here"
PIZZA = "Pizza is a vegetable."

INLINE = '''
import os
from metaflow import FlowSpec, secrets, step

SOURCES = [{"type": "inline", "id": "1", "options": {"env_vars": {"secret_1": "Pizza is a vegetable.",
                                                                   "SECRET_2": "How do eels reproduce?"}}}]


class InlineSecretsFlow(FlowSpec):
    @secrets(sources=SOURCES)
    @step
    def start(self):
        print("secret_1 set", os.environ.get("secret_1") == "Pizza is a vegetable.")
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @secrets(sources=SOURCES)
    @step
    def each(self):
        print("SECRET_2 set", os.environ.get("SECRET_2") == "How do eels reproduce?")
        self.next(self.join)

    @step
    def join(self, inputs):
        print("after the step", "secret_1" in os.environ, "SECRET_2" in os.environ)
        self.next(self.end)

    @secrets
    @step
    def end(self):
        print("bare", "secret_1" in os.environ)


if __name__ == "__main__":
    InlineSecretsFlow()
'''

CLASH = '''
import os
from metaflow import FlowSpec, secrets, step


class ClashFlow(FlowSpec):
    @secrets(sources=[{"type": "inline", "id": "a", "options": {"env_vars": {"ALREADY_SET": "new"}}}],
             allow_override=ALLOW)
    @step
    def start(self):
        print("value", os.environ["ALREADY_SET"])
        self.next(self.end)

    @step
    def end(self):
        print("end sees", os.environ["ALREADY_SET"])


if __name__ == "__main__":
    ClashFlow()
'''

AIRFLOW_SOURCES = '''
import hashlib
import os
from airflow_flow_triggers import FlowSpec, secrets, step


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class WarehouseFlow(FlowSpec):
    @secrets(sources=["airflow-connection.warehouse", "airflow-variable.api_token",
                      {"type": "airflow-variable", "id": "settings", "options": {"json": True}},
                      {"type": "airflow-connection", "id": "ops.db", "options": {"env_var_prefix": "OPS"}}])
    @step
    def start(self):
        env = os.environ
        print("fields", env["WAREHOUSE_CONN_TYPE"], env["WAREHOUSE_HOST"], env["WAREHOUSE_PORT"],
              env["WAREHOUSE_LOGIN"], env["WAREHOUSE_SCHEMA"], env["WAREHOUSE_EXTRA"])
        print("password", digest(env["WAREHOUSE_PASSWORD"]), env["WAREHOUSE_PASSWORD"] in env["WAREHOUSE_URI"],
              env["WAREHOUSE_URI"].startswith("postgres://bob:"))
        print("token", digest(env["api_token"]), "region", env["region"], "retries", env["retries"])
        print("ops", env["OPS_HOST"], "OPS_PASSWORD" in env)
        self.host = env["WAREHOUSE_HOST"]
        self.next(self.end)

    @step
    def end(self):
        print("end sees", [name for name in os.environ if name.startswith(("WAREHOUSE_", "OPS_")) or
                           name == "api_token"])


if __name__ == "__main__":
    WarehouseFlow()
'''

CONNECTIONS = {"AIRFLOW_CONN_WAREHOUSE": f"postgres://bob:{PASSWORD}@db.example.com:5432/sales?sslmode=require",
               "AIRFLOW_CONN_OPS.DB": "http://ops.example.com",
               "AIRFLOW_VAR_API_TOKEN": TOKEN,
               "AIRFLOW_VAR_SETTINGS": '{"region": "eu-west-1", "retries": 3}'}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def both(source: str, name: str, tmp_path: Path, **env) -> dict:
    """Run the flow file under real Metaflow and under this package (the import line changed), each in a fresh
    folder; {tool: (exit status, what it printed, the whole output)}."""
    results = {}
    for tool in ("metaflow", "ours"):
        folder = tmp_path / tool
        folder.mkdir()
        text = source if tool == "metaflow" else \
            source.replace("from metaflow import", "from airflow_flow_triggers import")
        (folder / name).write_text(text)
        base = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
                "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
                "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
        done = subprocess.run([sys.executable, name, "run"], cwd=folder, env={**base, **env}, capture_output=True,
                              text=True, timeout=600)
        output = done.stdout + "\n" + done.stderr
        results[tool] = (done.returncode, printed(output), output)
    return results


def files_holding(root: Path, text: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


def test_inline_secrets_are_in_the_step_environment_only_as_in_metaflow(tmp_path):
    results = both(INLINE, "inline_secrets_flow.py", tmp_path)
    assert results["ours"][0] == results["metaflow"][0] == 0, results["ours"][2]
    assert results["ours"][1] == results["metaflow"][1]
    assert results["ours"][1]["join"] == [("after the step False False",)]
    assert PIZZA not in results["ours"][2]
    assert files_holding(tmp_path / "ours" / "airflow_home", PIZZA) == []          # artifacts, records, logs


@pytest.mark.parametrize("allow", [False, True])
def test_a_secret_replaces_a_variable_only_with_allow_override(tmp_path, allow):
    results = both(CLASH.replace("ALLOW", str(allow)), "clash_flow.py", tmp_path, ALREADY_SET="old")
    assert results["ours"][0] == results["metaflow"][0] == (0 if allow else 1)
    if allow:
        assert results["ours"][1] == results["metaflow"][1] == {"start": [("value new",)], "end": [("end sees old",)]}
    else:
        assert "error: @secrets source a (inline) gives the variable ALREADY_SET, which the step's environment has " \
               "already: rename it, or pass @secrets(allow_override=True).\n" in results["ours"][2]


def test_airflow_connections_and_variables_through_airflows_api(write_flow, airflow_home):
    result = run_flow(write_flow(AIRFLOW_SOURCES, "warehouse_flow.py"), "run", "--max-workers", "1",
                      airflow_home=airflow_home, **CONNECTIONS)
    assert result.returncode == 0, result.stderr
    lines = printed(result.stdout)
    assert lines["start"] == [('fields postgres db.example.com 5432 bob sales {"sslmode": "require"}',
                               f"password {digest(PASSWORD)} True True", f"token {digest(TOKEN)} region eu-west-1 "
                               "retries 3",
                               "ops ops.example.com False")]
    assert lines["end"] == [("end sees []",)]                       # the same worker process, the variables gone
    for secret in (PASSWORD, TOKEN):
        assert secret not in result.stdout + result.stderr
        assert files_holding(airflow_home, secret) == []


def test_a_missing_secret_is_one_sentence_naming_its_source(write_flow, airflow_home):
    result = run_flow(write_flow(AIRFLOW_SOURCES, "missing_flow.py"), "run", airflow_home=airflow_home,
                      **{k: v for k, v in CONNECTIONS.items() if k != "AIRFLOW_CONN_WAREHOUSE"})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: @secrets source warehouse (airflow-connection): Airflow has no connection 'warehouse' (looked up in "
        "AIRFLOW_CONN_WAREHOUSE and the [secrets] backend, and in an Airflow task in its database too): add it, or "
        "fix the source's id.")
    assert "Traceback" not in result.stdout + result.stderr
    variable = run_flow(write_flow(AIRFLOW_SOURCES, "missing_var_flow.py"), "run", airflow_home=airflow_home,
                        **{k: v for k, v in CONNECTIONS.items() if k != "AIRFLOW_VAR_API_TOKEN"})
    assert variable.stderr.splitlines()[-1] == (
        "error: @secrets source api_token (airflow-variable): Airflow has no variable 'api_token' (looked up in "
        "AIRFLOW_VAR_API_TOKEN and the [secrets] backend, and in an Airflow task in its database too): add it, or "
        "fix the source's id.")


def test_the_default_source_type(monkeypatch):
    """A source without a type: Metaflow's METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE, else an Airflow connection."""
    from airflow_flow_triggers.flows.secrets import secret_source
    monkeypatch.delenv("METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", raising=False)
    assert (secret_source("warehouse").type, secret_source({"id": "w"}).type) == ("airflow-connection",) * 2
    monkeypatch.setenv("METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", "airflow-variable")
    assert secret_source("api_token").type == "airflow-variable"
    assert str(secret_source("airflow-connection.a.b")) == "a.b (airflow-connection)"


@pytest.mark.parametrize("sources, message", [
    ("'airflow-connection.x'", "@secrets(sources='airflow-connection.x') takes a list of sources"),
    ("['aws-secrets-manager.db']", "@secrets source 'aws-secrets-manager.db' is of type 'aws-secrets-manager', which "
                                   "this package does not read itself: configure Airflow's secrets backend"),
    ("['my.conn']", "@secrets source 'my.conn' has the unknown type 'my': use one of airflow-connection, "
                    "airflow-variable, inline (an id with '.' goes in a dict: {'type': 'airflow-connection', "
                    "'id': 'my.conn'})."),
    ("[{'type': 'vault', 'id': 'x'}]", "has the unknown type 'vault': use one of airflow-connection, airflow-variable, "
                                       "inline."),
    ("[{'id': 'x', 'option': {}}]", "has the unknown key 'option': use type, id, options and role."),
    ("[{'type': 'inline'}]", "has no 'id': name the secret"),
    ("[{'type': 'inline', 'id': 'x', 'options': {'env_vars': {'1BAD': 'v'}}}]",
     "@secrets source x (inline) gives the variable '1BAD', which is no environment variable name"),
    ("[{'type': 'inline', 'id': 'x', 'options': {'env_vars': {'METAFLOW_X': 'v'}}}]",
     "names starting with METAFLOW_ are Metaflow's own"),
    ("[{'type': 'inline', 'id': 'x', 'options': {'env_vars': {'N': 3}}}]",
     "@secrets source x (inline) gives N as a int: a secret's value must be a string."),
    ("[{'type': 'airflow-variable', 'id': 'x', 'options': {'env_var_prefix': 'P'}}]",
     "has the option 'env_var_prefix', which a airflow-variable source does not take: use env_var_name, json."),
    ("[{'type': 'airflow-connection', 'id': 'x', 'options': {'env_var_prefix': 'a-b'}}]",
     "has env_var_prefix='a-b', which is no environment variable name"),
    ("['airflow-variable.']", "@secrets source 'airflow-variable.' names no secret: write 'airflow-variable.<id>'."),
    ("[42]", "@secrets source 42 must be a string"),
])
def test_bad_sources_are_one_error_with_file_and_line(write_flow, sources, message):
    source = AIRFLOW_SOURCES.split("    @secrets(")[0] + f"    @secrets(sources={sources})\n    @step\n    def " \
        "start" + AIRFLOW_SOURCES.split("    def start", 1)[1]
    path = write_flow(source, "bad_secrets.py")
    with pytest.raises(FlowDefinitionError) as error:
        import_file(path, "bad_secrets")
    assert message in error.value.message, error.value.message
    assert (error.value.file, error.value.line) == (str(path), source.splitlines().index(
        f"    @secrets(sources={sources})") + 1)
    assert "@secrets" in error.value.message and PASSWORD not in error.value.message


def test_two_sources_giving_one_variable(write_flow, airflow_home):
    source = INLINE.replace("from metaflow import", "from airflow_flow_triggers import").replace(
        "@secrets(sources=SOURCES)\n    @step\n    def start", "@secrets(sources=SOURCES + [{'type': 'inline', 'id': "
        "'2', 'options': {'env_vars': {'SECRET_2': 'other'}}}])\n    @step\n    def start")
    result = run_flow(write_flow(source, "twice_flow.py"), "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: @secrets source 2 (inline) gives the variable SECRET_2, which source 1 (inline) gives too: rename one "
        "(options env_var_name / env_var_prefix).")


def test_secrets_with_every_step(write_flow, airflow_home):
    """`--with secrets:sources=[...]`, as Metaflow's suite adds decorators: parsed and attached to every step."""
    from airflow_flow_triggers.flows.decospecs import attach_decorators
    flow_cls = import_file(write_flow(AIRFLOW_SOURCES, "with_secrets.py"), "with_secrets").WarehouseFlow
    attach_decorators(flow_cls, ['secrets:sources=["airflow-variable.api_token"]'])
    assert [s.id for s in flow_cls.end.secrets.sources] == ["api_token"]
    assert len(flow_cls.start.secrets.sources) == 4                 # its own @secrets wins
    assert os.environ.get("api_token") is None


PRINTS = '''
import os
from airflow_flow_triggers import FlowSpec, secrets, step


class PrintingFlow(FlowSpec):
    @secrets(sources=[{"type": "inline", "id": "p", "options": {"env_vars": {"PIZZA": "Pizza is a vegetable."}}}])
    @step
    def start(self):
        print("careless:", os.environ["PIZZA"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PrintingFlow()
'''


def test_a_secret_the_step_prints_is_hidden_in_its_stored_log(write_flow, airflow_home):
    """As Airflow's task log masks it: Task.stdout (and `logs`) show *** where the step printed a secret."""
    result = run_flow(write_flow(PRINTS, "printing_flow.py"), "run", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert files_holding(airflow_home, PIZZA) == []
    [stored] = [p for p in airflow_home.rglob("_logs/0.stdout.log") if "/start/" in str(p)]
    assert stored.read_text() == "careless: ***\n"
