"""The start step fails: nothing is cloned, and the resumed run keeps the parameters the failed run was given."""
from metaflow import FlowSpec, JSONType, Parameter, current, step

BROKEN = True


class ResumeStartFlow(FlowSpec):
    alpha = Parameter('alpha', default=1)
    grid = Parameter('grid', type=JSONType, default='{"lr": [1]}')
    colors = Parameter('colors', default='red', separator=',')

    @step
    def start(self):
        if BROKEN:
            raise ValueError('start is broken')
        print('start', self.alpha, self.grid, self.colors, 'origin', current.origin_run_id)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.alpha * 2)


if __name__ == '__main__':
    ResumeStartFlow()
