"""A JSONType parameter read inside a foreach and after its join, and foreach over a parameter's list."""
from metaflow import FlowSpec, JSONType, Parameter, step


class JsonForeachFlow(FlowSpec):
    grid = Parameter('grid', type=JSONType, default='{"lr": [0.1, 0.01], "depth": 3}')

    @step
    def start(self):
        self.rates = self.grid['lr']
        self.next(self.train, foreach='rates')

    @step
    def train(self):
        self.model = (self.input, self.grid['depth'])
        print('train', self.index, self.model)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.models = [i.model for i in inputs]
        print('join sees', self.grid)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.models, self.grid['depth'])


if __name__ == '__main__':
    JsonForeachFlow()
