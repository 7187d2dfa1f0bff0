from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current

@trigger_on_finish(flow='ModelRefreshFlow')
class InferenceFlow(FlowSpec):

    @step
    def start(self):
        print("Triggering run", current.trigger.run)
        self.model = current.trigger.run.data.model
        print('Model', self.model)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    InferenceFlow()
