"""A switch inside each branch of a foreach: each branch takes its own case; the join sees every branch."""
from metaflow import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.values = [1, 2, 3, 4]
        self.next(self.each, foreach='values')

    @step
    def each(self):
        self.value = self.input
        self.kind = 'even' if self.value % 2 == 0 else 'odd'
        self.next({'even': self.halve, 'odd': self.triple}, condition='kind')

    @step
    def halve(self):
        self.result = self.value // 2
        self.next(self.join)

    @step
    def triple(self):
        self.result = self.value * 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted((i.value, i.kind, i.result) for i in inputs)
        print(self.results)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.results)


if __name__ == '__main__':
    SwitchInForeachFlow()
