from airflow_flow_triggers import FlowSpec, step

class FirstFlow(FlowSpec):

    @step
    def start(self):
        print("This is the first flow")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    FirstFlow()
