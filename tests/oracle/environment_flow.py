"""@environment sets variables for its step only, as strings."""
import os

from metaflow import FlowSpec, environment, step


class EnvironmentFlow(FlowSpec):
    @environment(vars={'GREETING': 'hello', 'COUNT': 3})
    @step
    def start(self):
        print('in start', os.environ.get('GREETING'), os.environ.get('COUNT'))
        self.next(self.a, self.b)

    @environment(vars={'GREETING': 'from a'})
    @step
    def a(self):
        print('in a', os.environ.get('GREETING'), os.environ.get('COUNT'))
        self.next(self.join)

    @step
    def b(self):
        print('in b', os.environ.get('GREETING'))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        print('in end', os.environ.get('GREETING'))


if __name__ == '__main__':
    EnvironmentFlow()
