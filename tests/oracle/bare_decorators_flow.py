"""Decorators written bare, as most Metaflow code does, beside called ones."""
from metaflow import FlowSpec, catch, current, environment, resources, retry, step, timeout


class BareDecoratorsFlow(FlowSpec):
    @retry
    @step
    def start(self):
        print('retry_count', current.retry_count)
        self.next(self.sized)

    @resources
    @step
    def sized(self):
        print('sized runs locally')
        self.next(self.guarded)

    @catch
    @step
    def guarded(self):
        raise RuntimeError('caught, not stored')
        self.next(self.timed)

    @timeout(seconds=30)
    @environment
    @step
    def timed(self):
        print('timed and environment')
        self.next(self.end)

    @step
    def end(self):
        print('done')


if __name__ == '__main__':
    BareDecoratorsFlow()
