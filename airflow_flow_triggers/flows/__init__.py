"""What a user writes: FlowSpec, step and flow decorators, Parameter, trigger declarations, the graph.

Nothing here imports Airflow (checked by the import-linter contract in setup.cfg).
"""
