from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, project

@trigger_on_finish(flow='FirstProjectFlow')
@project(name='variant_demo')
class SecondProjectFlow(FlowSpec):

    @step
    def start(self):
        print("This deployment is called", current.project_flow_name)
        print("This run was triggered by", current.trigger.event)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    SecondProjectFlow()
