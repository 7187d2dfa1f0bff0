"""`python -m airflow_flow_triggers publish NAME [KEY=VALUE ...]`: publish an event through Airflow.
`python -m airflow_flow_triggers airflow ACTION DAG_FILE [options]`: deploy (and run, list, ...) a project DAG."""
import sys

if sys.argv[1:2] == ["airflow"]:
    from .deploy.dag_files import main as dag_file_main
    sys.exit(dag_file_main(sys.argv[1:]))

from .deploy.events import main

sys.exit(main())
