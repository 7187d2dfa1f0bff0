"""@project's names in current, for the user branch, a test branch and production."""
from metaflow import FlowSpec, current, project, step


@project(name='oracle_project')
class ProjectCurrentFlow(FlowSpec):
    @step
    def start(self):
        print('project', current.project_name, 'branch', current.branch_name)
        print('user branch', current.is_user_branch, 'production', current.is_production)
        print('project flow name', current.project_flow_name)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ProjectCurrentFlow()
