from airflow_flow_triggers import FlowSpec, step, current, project

@project(name='variant_demo')
class FirstProjectFlow(FlowSpec):

    @step
    def start(self):
        print("This deployment is called", current.project_flow_name)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    FirstProjectFlow()
