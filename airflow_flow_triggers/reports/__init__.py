"""Cards: reports of a step's results (Metaflow's @card). Components and how a card is rendered to one
self-contained HTML file; the user-facing names are in `airflow_flow_triggers.cards`."""
