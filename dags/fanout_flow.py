"""Splits, joins, foreach and parameters: `python fanout_flow.py run --alpha 0.5 --n 20`."""
from airflow_flow_triggers import FlowSpec, Parameter, current, project, step


@project(name='example_project')
class FanoutFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.1, help='scale applied to every item')
    n = Parameter('n', default=20, help='how many items to fan out over')

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, self.cube)

    @step
    def square(self):
        self.power = 2
        self.next(self.pick)

    @step
    def cube(self):
        self.power = 3
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.powers = sorted(i.power for i in inputs)
        self.merge_artifacts(inputs, exclude=['power'])
        self.next(self.spread)

    @step
    def spread(self):
        self.next(self.scale, foreach='items')

    @step
    def scale(self):
        self.value = self.alpha * self.input ** max(self.powers)
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.values = [i.value for i in inputs]
        self.merge_artifacts(inputs, exclude=['value'])
        self.next(self.end)

    @step
    def end(self):
        print(f"{current.project_flow_name}: {len(self.values)} values, sum {sum(self.values):.1f}")


if __name__ == '__main__':
    FanoutFlow()
