"""The deployment store: code packages, records, production tokens and locks, and the DAG bundle Airflow reads it as.

Used by the flow file's command line in local mode (`--dags-folder`) and by the plugin's API on the
api-server; neither writes the store any other way.
"""
