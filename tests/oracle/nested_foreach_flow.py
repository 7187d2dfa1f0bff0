"""A foreach inside a foreach (Metaflow's nested foreach): the inner input and index, joined level by level."""
from metaflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.rows = ['a', 'b']
        self.next(self.row, foreach='rows')

    @step
    def row(self):
        self.row_name = self.input
        self.cols = [1, 2, 3]
        self.next(self.cell, foreach='cols')

    @step
    def cell(self):
        self.cell_name = f'{self.row_name}{self.input}'
        print('cell', self.row_name, self.input, self.index)
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        self.cells = [i.cell_name for i in inputs]
        self.row_name = inputs[0].row_name
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.grid = [i.cells for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.grid)


if __name__ == '__main__':
    NestedForeachFlow()
