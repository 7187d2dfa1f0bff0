"""A foreach over one item and one over a range: self.input, self.index, and inputs in order."""
from metaflow import FlowSpec, step


class SmallForeachFlow(FlowSpec):
    @step
    def start(self):
        self.only = ['single']
        self.next(self.one, foreach='only')

    @step
    def one(self):
        print('one', self.index, self.input)
        self.seen = self.input
        self.next(self.join_one)

    @step
    def join_one(self, inputs):
        self.seen = [i.seen for i in inputs]
        self.next(self.again)

    @step
    def again(self):
        self.numbers = range(4)
        self.next(self.each, foreach='numbers')

    @step
    def each(self):
        self.pair = (self.index, self.input * 10)
        self.next(self.join_each)

    @step
    def join_each(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.seen = inputs[0].seen
        self.next(self.end)

    @step
    def end(self):
        print('end', self.seen, self.pairs)


if __name__ == '__main__':
    SmallForeachFlow()
