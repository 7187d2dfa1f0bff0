"""`python -m airflow_flow_triggers publish NAME [KEY=VALUE ...]`: publish an event through Airflow."""
import sys

from .deploy.events import main

sys.exit(main())
