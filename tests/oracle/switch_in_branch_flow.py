"""A switch inside one branch of a static split (Metaflow's core graph switch_in_branch)."""
from metaflow import FlowSpec, step


class SwitchInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.seed = 5
        self.next(self.a, self.b)

    @step
    def a(self):
        self.condition = 'case2' if self.seed > 3 else 'case1'
        self.next({'case1': self.c, 'case2': self.d}, condition='condition')

    @step
    def b(self):
        self.value = 'b'
        self.next(self.join)

    @step
    def c(self):
        self.value = 'c'
        self.next(self.join)

    @step
    def d(self):
        self.value = 'd'
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        print('joined', self.values)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.values)


if __name__ == '__main__':
    SwitchInBranchFlow()
