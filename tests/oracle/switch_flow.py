"""A switch: the step sets self.route, only that case runs, and the cases meet again at a normal step."""
from metaflow import FlowSpec, current, step


class SwitchFlow(FlowSpec):
    @step
    def start(self):
        self.size = 3
        self.route = 'slow' if self.size > 2 else 'fast'
        print('route', self.route, current.graph['steps']['start']['type'],
              sorted(current.graph['steps']['start']['switch_cases'].items()))
        self.next({'fast': self.quick, 'slow': self.careful}, condition='route')

    @step
    def quick(self):
        self.result = 'quick'
        self.next(self.after)

    @step
    def careful(self):
        self.result = 'careful'
        self.next(self.check)

    @step
    def check(self):
        self.result += ' checked'
        self.next(self.after)

    @step
    def after(self):
        print('after', self.result, current.graph['graph_structure'])
        self.next(self.end)

    @step
    def end(self):
        print('end', self.result)


if __name__ == '__main__':
    SwitchFlow()
