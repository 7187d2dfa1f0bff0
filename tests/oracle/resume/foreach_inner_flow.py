"""A foreach whose branch 1 fails (after its siblings succeeded); resume clones start and branches 0 and 2."""
import time
import uuid

from metaflow import FlowSpec, Parameter, current, step

BROKEN = True   # the test fixes the flow (False) before it resumes


class ResumeForeachInnerFlow(FlowSpec):
    alpha = Parameter('alpha', default=1)

    @step
    def start(self):
        self.stamp = uuid.uuid4().hex     # made once: a clone reuses it, never computes it again
        print('stamp', self.stamp, 'origin', current.origin_run_id)
        self.items = [1, 2, 3]
        self.next(self.work, foreach='items')

    @step
    def work(self):
        if BROKEN and self.index == 1:
            time.sleep(3)                 # its siblings finish first, in either tool
            raise ValueError(f'item {self.input} is broken')
        self.value = self.input * self.alpha
        print('work', self.input, 'origin', current.origin_run_id)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.stamp = inputs[0].stamp
        print('join', [i.value for i in inputs], 'origin', current.origin_run_id)
        self.next(self.end)

    @step
    def end(self):
        print('stamp', self.stamp, 'total', self.total, 'origin', current.origin_run_id)


if __name__ == '__main__':
    ResumeForeachInnerFlow()
