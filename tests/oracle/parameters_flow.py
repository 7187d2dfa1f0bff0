"""Parameters of every plain type, with defaults and given on the command line."""
from metaflow import FlowSpec, JSONType, Parameter, step


class ParametersFlow(FlowSpec):
    who = Parameter('who', default='world')
    count = Parameter('count', default=3)
    rate = Parameter('rate', default=0.5, type=float)
    verbose = Parameter('verbose', default=False, type=bool)
    config = Parameter('config', default='{"depth": 2}', type=JSONType)

    @step
    def start(self):
        print('who', repr(self.who), 'count', repr(self.count), 'rate', repr(self.rate))
        print('verbose', repr(self.verbose), 'config', repr(self.config))
        self.next(self.end)

    @step
    def end(self):
        print('config depth', self.config['depth'])


if __name__ == '__main__':
    ParametersFlow()
