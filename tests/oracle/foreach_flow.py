"""A foreach: self.input and self.index in each branch, results gathered in the join in order."""
from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.words = ['alpha', 'beta', 'gamma', 'delta']
        self.next(self.measure, foreach='words')

    @step
    def measure(self):
        self.word = self.input
        self.length = len(self.input)
        print('branch', self.index, self.input, self.length)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lengths = [i.length for i in inputs]
        self.words = [i.word for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.words, self.lengths)


if __name__ == '__main__':
    ForeachFlow()
