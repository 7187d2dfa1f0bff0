"""A foreach in a foreach whose one inner branch fails: every other cell is cloned."""
import time

from metaflow import FlowSpec, current, step

BROKEN = True


class ResumeNestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.rows = ['x', 'y']
        self.next(self.row, foreach='rows')

    @step
    def row(self):
        self.cols = [1, 2]
        self.next(self.cell, foreach='cols')

    @step
    def cell(self):
        if BROKEN and self.input == 2 and self.foreach_stack()[0][0] == 1:
            time.sleep(3)
            raise ValueError('cell y2 is broken')
        self.label = f'{self.foreach_stack()[0][2]}{self.input}'
        print('cell', self.label, 'origin', current.origin_run_id)
        self.next(self.row_join)

    @step
    def row_join(self, inputs):
        self.names = [i.label for i in inputs]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.names = sorted(n for i in inputs for n in i.names)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.names)


if __name__ == '__main__':
    ResumeNestedForeachFlow()
