"""The step that fans out fails: resume clones start only."""
from metaflow import FlowSpec, current, step

BROKEN = True


class ResumeForeachSplitFlow(FlowSpec):
    @step
    def start(self):
        self.size = 3
        self.next(self.fan)

    @step
    def fan(self):
        if BROKEN:
            raise IndexError('cannot fan out')
        self.items = list(range(self.size))
        print('fan', self.items, 'origin', current.origin_run_id)
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.square = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.square for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print('end', self.squares)


if __name__ == '__main__':
    ResumeForeachSplitFlow()
