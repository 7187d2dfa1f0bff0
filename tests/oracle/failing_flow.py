"""A step that raises: the run fails, naming the step, and later steps never run."""
from metaflow import FlowSpec, step


class FailingFlow(FlowSpec):
    @step
    def start(self):
        print('before the error')
        self.next(self.broken)

    @step
    def broken(self):
        raise KeyError('no such key')
        self.next(self.end)

    @step
    def end(self):
        print('never printed')


if __name__ == '__main__':
    FailingFlow()
