"""A switch whose case opens a foreach (Metaflow's core graph foreach_in_switch)."""
from metaflow import FlowSpec, Parameter, step


class ForeachInSwitchFlow(FlowSpec):
    mode = Parameter('mode', default='process')

    @step
    def start(self):
        self.route = self.mode
        self.next({'process': self.process_items, 'skip': self.skip_processing}, condition='route')

    @step
    def process_items(self):
        self.items_to_process = ['item_1', 'item_2', 'item_3']
        self.next(self.do_work, foreach='items_to_process')

    @step
    def do_work(self):
        self.done = f'{self.input} done'
        print('work', self.index, self.input)
        self.next(self.join_work)

    @step
    def join_work(self, inputs):
        self.result = [i.done for i in inputs]
        self.next(self.end)

    @step
    def skip_processing(self):
        self.result = []
        self.next(self.end)

    @step
    def end(self):
        print('end', self.result)


if __name__ == '__main__':
    ForeachInSwitchFlow()
