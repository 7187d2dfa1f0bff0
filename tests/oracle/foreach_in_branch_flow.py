"""A foreach inside one branch of a static split; the other branch is a plain step."""
from metaflow import FlowSpec, step


class ForeachInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.single)

    @step
    def fan(self):
        self.numbers = [3, 1, 2]
        self.next(self.square, foreach='numbers')

    @step
    def square(self):
        self.squared = self.input ** 2
        print('square', self.index, self.input, self.squared)
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.squared for i in inputs)
        self.next(self.join)

    @step
    def single(self):
        self.total = 100
        self.next(self.join)

    @step
    def join(self, inputs):
        print('totals', inputs.gather.total, inputs.single.total)
        self.grand = sum(i.total for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.grand)


if __name__ == '__main__':
    ForeachInBranchFlow()
