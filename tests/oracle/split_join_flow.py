"""A static split and its join: inputs by step name, iteration, merge_artifacts with exclude."""
from metaflow import FlowSpec, step


class SplitJoinFlow(FlowSpec):
    @step
    def start(self):
        self.shared = 'same everywhere'
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = 'left'
        self.score = 1
        self.next(self.join)

    @step
    def right(self):
        self.side = 'right'
        self.score = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        print('left', inputs.left.side, 'right', inputs.right.side)
        self.total = sum(i.score for i in inputs)
        self.merge_artifacts(inputs, exclude=['side', 'score'])
        self.next(self.end)

    @step
    def end(self):
        print(self.shared, self.total)


if __name__ == '__main__':
    SplitJoinFlow()
