"""@catch in a foreach: the failing branch keeps its exception, the others their results, and the join sees all."""
from metaflow import FlowSpec, catch, step


class CatchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.divisors = [1, 0, 4]
        self.next(self.divide, foreach='divisors')

    @catch(var='error', print_exception=False)
    @step
    def divide(self):
        self.result = None
        self.result = 12 / self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outcomes = [(i.input, i.result, i.error.type if i.error else None) for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        for outcome in self.outcomes:
            print(*outcome)


if __name__ == '__main__':
    CatchInForeachFlow()
