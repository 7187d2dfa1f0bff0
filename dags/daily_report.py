"""A TaskFlow DAG in the variant_demo project: it runs, on each branch, when that branch's FirstProjectFlow finishes.

    python -m airflow_flow_triggers airflow create daily_report.py [--branch new_model]
"""
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish, current

@project(name='variant_demo')
@trigger_on_finish(flow='FirstProjectFlow')
@dag(schedule=None)
def daily_report():
    @task
    def summarize():
        print('branch', current.branch_name, 'triggered by', current.trigger.run)
        return {'rows': 42}
    summarize()

daily_report()
