from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, project

@trigger_on_finish(flow='publish_report')
@project(name='variant_demo')
class ArchiveReportFlow(FlowSpec):
    """A flow that starts when the branch's publish_report DAG finishes: a DAG's tasks' results are its data."""

    @step
    def start(self):
        self.published = current.trigger.run.data.publish['published']
        print("Archiving", self.published, "rows published by", current.trigger.run)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    ArchiveReportFlow()
