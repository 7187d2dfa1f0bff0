"""A foreach's join fails: resume clones start and every branch, and runs the join again."""
from metaflow import FlowSpec, current, step

BROKEN = True


class ResumeForeachJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = ['a', 'b', 'c']
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.letter = self.input.upper()
        print('work', self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        if BROKEN:
            raise RuntimeError('the join is broken')
        self.letters = ''.join(i.letter for i in inputs)
        print('join', self.letters, 'origin', current.origin_run_id)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.letters)


if __name__ == '__main__':
    ResumeForeachJoinFlow()
