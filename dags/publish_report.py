"""A classic Airflow DAG in the variant_demo project: it runs when the branch's daily_report DAG finishes, and reads
what daily_report's tasks returned.

    python -m airflow_flow_triggers airflow create publish_report.py [--branch new_model]
"""
import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow_flow_triggers import project, trigger_on_finish, current


def publish():
    rows = current.trigger.run.data.summarize['rows']
    print('publishing', rows, 'rows of', current.trigger.run, 'on', current.project_flow_name)
    return {'published': rows}


with DAG('publish_report', schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz='UTC'), catchup=False) as dag:
    BashOperator(task_id='check', bash_command='echo checking the report') >> \
        PythonOperator(task_id='publish', python_callable=publish)

project(name='variant_demo')(trigger_on_finish(flow='daily_report')(dag))
