"""Three foreach levels (Metaflow's core graph nested_foreach): the innermost task sees every level's input."""
from metaflow import FlowSpec, step


class DeepNestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.x = 'ab'
        self.next(self.foreach_split_x, foreach='x')

    @step
    def foreach_split_x(self):
        self.at_x = self.input
        self.y = 'cd'
        self.next(self.foreach_split_y, foreach='y')

    @step
    def foreach_split_y(self):
        self.at_y = self.input
        self.z = 'efg'
        self.next(self.foreach_inner, foreach='z')

    @step
    def foreach_inner(self):
        self.word = self.at_x + self.at_y + self.input
        print('inner', self.word, self.index)
        self.next(self.foreach_join_z)

    @step
    def foreach_join_z(self, inputs):
        self.words = [i.word for i in inputs]
        self.next(self.foreach_join_y)

    @step
    def foreach_join_y(self, inputs):
        self.words = [w for i in inputs for w in i.words]
        self.next(self.foreach_join_x)

    @step
    def foreach_join_x(self, inputs):
        self.words = [w for i in inputs for w in i.words]
        self.next(self.end)

    @step
    def end(self):
        print(len(self.words), self.words)


if __name__ == '__main__':
    DeepNestedForeachFlow()
