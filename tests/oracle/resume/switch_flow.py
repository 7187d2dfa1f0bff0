"""A switch whose case fails: resume clones start (the switch) and runs the case it took again."""
from metaflow import FlowSpec, Parameter, current, step

BROKEN = True


class ResumeSwitchFlow(FlowSpec):
    size = Parameter('size', default=1)

    @step
    def start(self):
        self.route = 'slow' if self.size > 2 else 'fast'
        self.next({'fast': self.quick, 'slow': self.careful}, condition='route')

    @step
    def quick(self):
        if BROKEN:
            raise ValueError('quick is broken')
        self.result = f'quick {self.size}'
        print('quick', 'origin', current.origin_run_id)
        self.next(self.after)

    @step
    def careful(self):
        self.result = 'careful'
        self.next(self.after)

    @step
    def after(self):
        print('after', self.result)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ResumeSwitchFlow()
