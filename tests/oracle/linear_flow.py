"""Artifacts from step to step: assigned, read, changed in place, reassigned."""
from metaflow import FlowSpec, step


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.label = 'linear'
        self.next(self.grow)

    @step
    def grow(self):
        self.numbers.append(4)
        self.total = sum(self.numbers)
        self.next(self.rename)

    @step
    def rename(self):
        self.label = self.label.upper()
        self.next(self.end)

    @step
    def end(self):
        print(self.label, self.numbers, self.total)


if __name__ == '__main__':
    LinearFlow()
