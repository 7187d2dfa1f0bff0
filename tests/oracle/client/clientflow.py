"""A project flow whose runs the notebook script reads back: each run keeps its mark, and reads its own
namespace's latest run from inside a step (seed 001's promise for deployments)."""
from metaflow import Flow, FlowSpec, Parameter, current, project, step


@project(name='clientdemo')
class ClientFlow(FlowSpec):
    mark = Parameter('mark', default=0)

    @step
    def start(self):
        self.seen_namespace = current.namespace
        previous = Flow('ClientFlow').latest_successful_run
        self.previous_mark = previous.data.mark if previous else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ClientFlow()
