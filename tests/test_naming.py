import pytest

from airflow_flow_triggers.errors import NamingError
from airflow_flow_triggers.naming import (
    Deployment,
    branch_name,
    check_dag_id,
    current_user,
    qualify,
    sanitize_user,
    split_flow_name,
    validate_name,
)


@pytest.mark.parametrize("name", ["a", "example_project", "x1_2", "a" * 128])
def test_valid_names(name):
    assert validate_name("project", name) == name


@pytest.mark.parametrize("name, fragment", [
    ("", "must not be empty"),
    ("Example", "lowercase alphanumeric characters and underscores"),
    ("my-project", "lowercase alphanumeric characters and underscores"),
    ("a.b", "lowercase alphanumeric characters and underscores"),
    ("../x", "lowercase alphanumeric characters and underscores"),
    ("a" * 129, "shorter than 129 characters"),
])
def test_invalid_names(name, fragment):
    with pytest.raises(NamingError, match=fragment):
        validate_name("branch", name)


def test_branch_formation():
    assert branch_name("better_version", True, "alice") == "prod.better_version"
    assert branch_name("better_version", False, "alice") == "test.better_version"
    assert branch_name(None, True, "alice") == "prod"
    assert branch_name(None, False, "alice") == "user.alice"


def test_branch_name_is_validated():
    with pytest.raises(NamingError, match="The branch name must only contain"):
        branch_name("New-Model", False, "alice")


def test_user_lookup_order_skips_root_and_empty():
    env = {"METAFLOW_USER": "", "SUDO_USER": "root", "USERNAME": "Bob", "USER": "carol"}
    assert current_user(env) == "bob"
    assert current_user({"USER": "carol", "METAFLOW_USER": "Dave"}) == "dave"
    assert current_user({"SUDO_USER": "erin", "USER": "root"}) == "erin"


def test_user_is_sanitised():
    assert sanitize_user("Alice.Smith@corp.com") == "alice_smith_corp_com"
    assert current_user({"USER": "Alice.Smith@corp.com"}) == "alice_smith_corp_com"


def test_no_user_is_a_clear_error():
    with pytest.raises(NamingError, match="Could not determine the user name"):
        current_user({"USER": "root"})


def test_project_flow_name_and_flags():
    d = Deployment.resolve("FirstProjectFlow", "variant_demo", user="alice")
    assert d.project_flow_name == "variant_demo.user.alice.FirstProjectFlow"
    assert d.is_user_branch and not d.is_production
    p = Deployment.resolve("F", "proj", "b", production=True, user="alice")
    assert p.project_flow_name == "proj.prod.b.F" and p.is_production and not p.is_user_branch
    assert Deployment.resolve("F", None).project_flow_name == "F"


def test_dag_id_limit():
    check_dag_id("x" * 250)
    with pytest.raises(NamingError, match="over Airflow's DAG id limit of 250"):
        Deployment.resolve("F" * 200, "p" * 40, "b" * 10, user="alice")


@pytest.mark.parametrize("name, expected", [
    ("FirstFlow", (None, None, "FirstFlow")),
    ("variant_demo.user.alice.FirstProjectFlow", ("variant_demo", "user.alice", "FirstProjectFlow")),
    ("p.prod.F", ("p", "prod", "F")),
])
def test_split_flow_name(name, expected):
    assert split_flow_name(name) == expected


def test_one_dot_is_an_error():
    with pytest.raises(NamingError, match="exactly one dot"):
        split_flow_name("variant_demo.FirstProjectFlow")


def test_qualify_in_same_project_branch():
    within = Deployment("SecondProjectFlow", "variant_demo", "test.new_model", "bob")
    assert qualify("FirstProjectFlow", within) == "variant_demo.test.new_model.FirstProjectFlow"
    assert qualify("variant_demo.user.alice.FirstProjectFlow", within) == \
        "variant_demo.user.alice.FirstProjectFlow"
    assert qualify("FirstFlow", None) == "FirstFlow"
