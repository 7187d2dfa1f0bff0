"""A static split inside each branch of a foreach."""
from metaflow import FlowSpec, step


class SplitInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.values = [10, 20]
        self.next(self.each, foreach='values')

    @step
    def each(self):
        self.value = self.input
        self.next(self.double, self.halve)

    @step
    def double(self):
        self.result = self.value * 2
        self.next(self.both)

    @step
    def halve(self):
        self.result = self.value / 2
        self.next(self.both)

    @step
    def both(self, inputs):
        self.pair = (inputs.double.result, inputs.halve.result)
        self.value = inputs.double.value
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.pairs)


if __name__ == '__main__':
    SplitInForeachFlow()
