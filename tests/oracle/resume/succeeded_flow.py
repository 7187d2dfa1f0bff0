"""A run that succeeded, resumed from its middle step (resume middle): start is cloned, middle and end run."""
from metaflow import FlowSpec, current, step

BROKEN = False


class ResumeSucceededFlow(FlowSpec):
    @step
    def start(self):
        self.first = current.origin_run_id is None
        self.next(self.middle)

    @step
    def middle(self):
        print('middle', 'first run' if current.origin_run_id is None else 'resumed', self.first)
        self.next(self.end)

    @step
    def end(self):
        print('end', 'origin', current.origin_run_id)


if __name__ == '__main__':
    ResumeSucceededFlow()
