"""merge_artifacts with a conflict left unresolved: the join fails, naming the artifact."""
from metaflow import FlowSpec, step


class MergeConflictFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.value = 'a'
        self.next(self.join)

    @step
    def b(self):
        self.value = 'b'
        self.next(self.join)

    @step
    def join(self, inputs):
        print('merging')
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print('never printed')


if __name__ == '__main__':
    MergeConflictFlow()
