"""A foreach over 3 items, or over ITEMS items: --max-num-splits (default 100) bounds it."""
import os

from metaflow import FlowSpec, current, step


class SplitsFlow(FlowSpec):
    @step
    def start(self):
        with open('run-id') as handle:
            print('run id file written first', handle.read() == current.run_id)
        self.items = list(range(int(os.environ.get('ITEMS', '3'))))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        print('joined', sum(1 for _ in inputs))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    SplitsFlow()
