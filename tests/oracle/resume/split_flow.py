"""A static split whose branch b fails after a succeeded: resume clones start and a."""
import time

from metaflow import FlowSpec, current, step

BROKEN = True


class ResumeSplitFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.a, self.b)

    @step
    def a(self):
        self.part = self.base + 1
        print('a', self.part)
        self.next(self.join)

    @step
    def b(self):
        if BROKEN:
            time.sleep(3)
            raise ValueError('b is broken')
        self.part = self.base + 2
        print('b', self.part, 'origin', current.origin_run_id)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.a.part + inputs.b.part
        self.next(self.end)

    @step
    def end(self):
        print('end', self.total)


if __name__ == '__main__':
    ResumeSplitFlow()
