"""Trains a (toy) model; InferenceFlow uses it when this flow finishes (seed 002)."""
from airflow_flow_triggers import FlowSpec, Parameter, step


class ModelRefreshFlow(FlowSpec):
    scale = Parameter('scale', default=2.0, help='the slope the model learns')

    @step
    def start(self):
        xs = [0.0, 1.0, 2.0, 3.0]
        ys = [self.scale * x + 1.0 for x in xs]
        slope = (ys[-1] - ys[0]) / (xs[-1] - xs[0])
        self.model = {'slope': slope, 'intercept': ys[0] - slope * xs[0]}
        self.next(self.end)

    @step
    def end(self):
        print('Model', self.model)


if __name__ == '__main__':
    ModelRefreshFlow()
