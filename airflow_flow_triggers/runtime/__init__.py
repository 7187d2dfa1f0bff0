"""Running one step anywhere: the artifact store, the step runtime, `current`, the client API, local runs.

Airflow is imported here only to reach an object-storage artifact root (ObjectStoragePath); a local
run on a `file://` root never imports it.
"""
