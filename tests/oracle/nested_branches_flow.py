"""A static split inside one branch of another, each joined in turn."""
from metaflow import FlowSpec, step


class NestedBranchesFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ['start']
        self.next(self.outer_a, self.outer_b)

    @step
    def outer_a(self):
        self.trail = self.trail + ['outer_a']
        self.next(self.inner_a, self.inner_b)

    @step
    def inner_a(self):
        self.leaf = 'inner_a'
        self.next(self.inner_join)

    @step
    def inner_b(self):
        self.leaf = 'inner_b'
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.leaves = sorted(i.leaf for i in inputs)
        self.merge_artifacts(inputs, exclude=['leaf'])
        self.next(self.outer_join)

    @step
    def outer_b(self):
        self.leaves = ['outer_b']
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        print('inner', inputs.inner_join.leaves, 'outer', inputs.outer_b.leaves, inputs.inner_join.trail)
        self.all_leaves = sorted(leaf for i in inputs for leaf in i.leaves)
        self.next(self.end)

    @step
    def end(self):
        print('end', self.all_leaves)


if __name__ == '__main__':
    NestedBranchesFlow()
