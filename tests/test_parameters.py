"""Parameters as Metaflow parses them: separator, IncludeFile (locally a path; on Airflow its content or a data:
URL), and how IncludeFile defaults travel with the code package. The side-by-side runs under Metaflow are in
test_metaflow_oracle.py (more_parameters_flow.py)."""
import base64
import json

import pytest
from conftest import import_file

from airflow_flow_triggers.deployments import packages
from airflow_flow_triggers.errors import CommandLineError
from airflow_flow_triggers.flows.parameters import read_included_files, resolve_parameter_values

FLOW = '''
import json

from airflow_flow_triggers import FlowSpec, IncludeFile, Parameter, step


class FileFlow(FlowSpec):
    colors = Parameter('colors', default='red,green', separator=',')
    table = IncludeFile('table', default='cities.csv')
    raw = IncludeFile('raw', default='cities.csv', is_text=False)
    config = IncludeFile('config', default='config.json', parser=json.loads)
    named = IncludeFile('named', default='config.json', parser='json.loads')

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.fixture
def flow_cls(tmp_path):
    (tmp_path / "cities.csv").write_text("city,temperature\nOslo,4\n")
    (tmp_path / "config.json").write_text('{"depth": 3}')
    (tmp_path / "file_flow.py").write_text(FLOW)
    return import_file(tmp_path / "file_flow.py", "file_flow_module").FileFlow


def test_defaults_are_read_beside_the_flow_file(flow_cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)             # not the flow's folder: the default is found beside the flow
    values = resolve_parameter_values(flow_cls, {})
    assert values == {"colors": ["red", "green"], "table": "city,temperature\nOslo,4\n",
                      "raw": b"city,temperature\nOslo,4\n", "config": {"depth": 3}, "named": {"depth": 3}}


def test_a_command_line_path_is_read_then_converted(flow_cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.csv").write_bytes(b"city\nNairobi\n")
    given = read_included_files(flow_cls, {"table": "other.csv", "raw": "other.csv", "colors": "blue"})
    assert given == {"table": b"city\nNairobi\n", "raw": b"city\nNairobi\n", "colors": "blue"}
    values = resolve_parameter_values(flow_cls, given)
    assert values["table"] == "city\nNairobi\n" and values["raw"] == b"city\nNairobi\n"
    assert values["colors"] == ["blue"]


def test_a_dag_runs_conf_carries_the_content(flow_cls, tmp_path, monkeypatch):
    """What `airflow trigger --table f` sends: text as text, bytes that are no text as a data: URL; both are
    JSON, and Airflow's tasks turn them back into what the local run gets."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "binary.bin").write_bytes(bytes(range(250, 256)))
    conf = read_included_files(flow_cls, {"table": "cities.csv", "raw": "binary.bin"}, for_conf=True)
    assert conf["table"] == "city,temperature\nOslo,4\n"
    assert conf["raw"] == "data:application/octet-stream;base64," + base64.b64encode(bytes(range(250, 256))).decode()
    values = resolve_parameter_values(flow_cls, json.loads(json.dumps(conf)))
    assert values["table"] == "city,temperature\nOslo,4\n" and values["raw"] == bytes(range(250, 256))
    # `airflow dags trigger -c` by hand: the content itself, a JSON list for a separator parameter
    by_hand = resolve_parameter_values(flow_cls, {"table": "a,b\n1,2\n", "colors": ["x", "y"], "config": '{"a": 1}'})
    assert by_hand["table"] == "a,b\n1,2\n" and by_hand["colors"] == ["x", "y"] and by_hand["config"] == {"a": 1}


def test_a_bad_data_url_is_one_sentence(flow_cls):
    with pytest.raises(CommandLineError, match="IncludeFile 'raw' got a data: URL that cannot be read"):
        resolve_parameter_values(flow_cls, {"raw": "data:;base64,abc"})


def test_defaults_travel_in_the_code_package(flow_cls, tmp_path):
    package = packages.collect(tmp_path / "file_flow.py", data_files=("cities.csv", "config.json"))
    assert set(package.files) == {"file_flow.py", "cities.csv", "config.json"}
    assert sorted(package.data_files) == ["cities.csv", "config.json"]
    # the api-server takes the data files the client declares, and no other non-Python file
    assert packages.checked("file_flow.py", package.files, package.data_files).sha256 == package.sha256
    with pytest.raises(CommandLineError, match="holds the file 'cities.csv', which is not a Python file"):
        packages.checked("file_flow.py", package.files, ["config.json"])
    with pytest.raises(CommandLineError, match="The IncludeFile default '../x.csv' is not a file in"):
        packages.collect(tmp_path / "file_flow.py", data_files=("../x.csv",))
