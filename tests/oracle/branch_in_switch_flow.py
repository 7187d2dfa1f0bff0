"""A switch whose case opens a static split (Metaflow's core graph branch_in_switch)."""
from metaflow import FlowSpec, Parameter, step


class BranchInSwitchFlow(FlowSpec):
    mode = Parameter('mode', default='process')

    @step
    def start(self):
        self.route = self.mode
        self.next({'process': self.process_branch, 'skip': self.skip_path}, condition='route')

    @step
    def process_branch(self):
        self.base = 10
        self.next(self.p1, self.p2)

    @step
    def p1(self):
        self.part = self.base + 1
        self.next(self.process_join)

    @step
    def p2(self):
        self.part = self.base + 2
        self.next(self.process_join)

    @step
    def process_join(self, inputs):
        self.result = sorted(i.part for i in inputs)
        print('joined', self.result)
        self.next(self.end)

    @step
    def skip_path(self):
        self.result = 'skipped'
        self.next(self.end)

    @step
    def end(self):
        print('end', self.result)


if __name__ == '__main__':
    BranchInSwitchFlow()
