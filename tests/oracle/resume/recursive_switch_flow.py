"""A recursive switch that fails on its 6th round: rounds 1 to 5 are cloned, 6 to 10 run."""
from metaflow import FlowSpec, current, step

BROKEN = True


class ResumeRecursiveSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        if BROKEN and self.count == 6:
            raise ValueError('round 6 is broken')
        print('loop', self.count, 'origin', current.origin_run_id)
        self.state = 'again' if self.count < 10 else 'done'
        self.next({'again': self.loop, 'done': self.end}, condition='state')

    @step
    def end(self):
        print('end', self.count)


if __name__ == '__main__':
    ResumeRecursiveSwitchFlow()
