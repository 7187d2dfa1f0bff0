"""What a run sees of Metaflow's options given as METAFLOW_* variables: parameters, branch, production, user."""
from metaflow import FlowSpec, Parameter, current, project, step


@project(name='envproj')
class EnvOptionsFlow(FlowSpec):
    alpha = Parameter('alpha', default=1)
    my_param = Parameter('my-param', default='x')
    flag = Parameter('flag', default=False, type=bool)

    @step
    def start(self):
        print('branch', current.branch_name, current.is_production, current.project_flow_name)
        print('alpha', self.alpha, 'my', self.my_param, 'flag', self.flag)
        print('tags', sorted(current.tags), 'user', current.username)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    EnvOptionsFlow()
