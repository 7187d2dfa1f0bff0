"""Deploying flows: the flow file's command line, snapshots per project branch, tokens, Airflow's REST API."""
