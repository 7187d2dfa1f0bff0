"""merge_artifacts: unchanged artifacts pass, include= picks, a conflict resolved by assigning it first."""
from metaflow import FlowSpec, step


class MergeArtifactsFlow(FlowSpec):
    @step
    def start(self):
        self.common = 'from start'
        self.conflict = 0
        self.next(self.a, self.b)

    @step
    def a(self):
        self.conflict = 1
        self.only_a = 'a'
        self.dropped = 'a'
        self.next(self.join)

    @step
    def b(self):
        self.conflict = 2
        self.only_b = 'b'
        self.dropped = 'b'
        self.next(self.join)

    @step
    def join(self, inputs):
        self.conflict = max(i.conflict for i in inputs)
        self.merge_artifacts(inputs, exclude=['dropped'])
        print('merged', self.common, self.conflict, self.only_a, self.only_b, hasattr(self, 'dropped'))
        self.next(self.fork)

    @step
    def fork(self):
        self.next(self.pick, self.other)

    @step
    def pick(self):
        self.choice = 'pick'
        self.next(self.join_include)

    @step
    def other(self):
        self.choice = 'other'
        self.extra = 'only in other'
        self.next(self.join_include)

    @step
    def join_include(self, inputs):
        self.merge_artifacts(inputs, include=['extra', 'common'])
        print('included', self.extra, self.common, hasattr(self, 'choice'))
        self.next(self.end)

    @step
    def end(self):
        print('end', self.common, self.extra)


if __name__ == '__main__':
    MergeArtifactsFlow()
