"""Deploying flows: the flow file's command line, `airflow create | trigger | delete | list`, Airflow's API client."""
