"""A recursive switch: the step runs again until its condition says it is done."""
from metaflow import FlowSpec, step


class RecursiveSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        print('loop', self.count)
        self.state = 'again' if self.count < 3 else 'done'
        self.next({'again': self.loop, 'done': self.end}, condition='state')

    @step
    def end(self):
        print('end', self.count)


if __name__ == '__main__':
    RecursiveSwitchFlow()
