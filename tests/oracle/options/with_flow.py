"""Decorators added from the command line (--with): a step that fails its first attempt, one that always fails,
one that reads the environment, and one whose own @retry(times=0) wins over --with's."""
import os

from metaflow import FlowSpec, current, retry, step


class WithFlow(FlowSpec):
    @step
    def start(self):
        print('attempt', current.retry_count, 'greeting', os.environ.get('GREETING'))
        if current.retry_count == 0:
            raise ValueError('the first attempt fails')
        self.next(self.broken)

    @step
    def broken(self):
        raise KeyError('always broken')
        self.next(self.own)

    @retry(times=0)
    @step
    def own(self):
        print('broken caught', self.oops.type, 'own attempt', current.retry_count)
        if current.retry_count == 0:
            raise ValueError('its own @retry(times=0) wins: no second attempt')
        self.next(self.end)

    @step
    def end(self):
        print('caught', self.oops.type if self.oops else None)


if __name__ == '__main__':
    WithFlow()
