"""An auth manager for the plugin's tests: Airflow's simple auth manager, except that user 'bob' may
read only the DAGs of project branch test.new_model. (The simple auth manager alone has roles, not
per-DAG permissions.) The api-server loads it with AIRFLOW__CORE__AUTH_MANAGER=restricted_auth.RestrictedAuthManager."""
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


class RestrictedAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if user.get_name() == "bob" and details is not None and details.id and ".test.new_model." not in details.id:
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
