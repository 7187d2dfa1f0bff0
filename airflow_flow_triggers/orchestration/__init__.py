"""Everything that imports Airflow: the DAG factory, the task callables, assets and trigger windows."""
